// The real relay served through hal/lwip: clients connect over lwIP's loopback
// interface, mail goes in by SMTP, is stored in a flash image in RAM (NOR rules),
// and comes out by POP3 byte for byte, as in the host integration tests.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>

#include "firmware/relay.hpp"
#include "firmware/server_identity.hpp"
#include "firmware/tls_arena.hpp"
#include "hal/memory/memory_flash.hpp"
#include "loopback_stack.hpp"
#include "tests/support/relay_basics.hpp"

namespace pigeon::test {
namespace {

constexpr hal::FlashGeometry flash_geometry{64 * 1024, 8, 16};
constexpr std::string_view password = "lwip-test-password";

// Everything the relay needs, wired as a board would, over lwIP.
struct RelayOverLwip : RelayBasics {
  RelayOverLwip() {
    start_lwip();
    tls_arena_init();
    apply_config_line(config, "plaintext_login = smtp, pop3");
    apply_config_line(config, "log_level = warning");
    apply_config_line(config, "auth_failure_delay_ms = 50");
    // Ephemeral ports: lwIP keeps closed connections in TIME-WAIT, which would
    // hold a fixed port from one test to the next.
    for (const char* line : {"smtp_port = 0", "submission_port = 0", "submissions_port = 0", "pop3_port = 0",
                             "pop3s_port = 0", "imap_port = 0", "imaps_port = 0"}) {
      apply_config_line(config, line);
    }
    add_user(password);
    EXPECT_TRUE(logins.start(random));
    static std::array<char, 4096> key{}, cert{};
    ServerIdentityPem identity{key, cert};
    EXPECT_TRUE(generate_server_identity(random, "localhost", clock.unix_time_s(), identity));
    EXPECT_TRUE(tls.load_identity({key.data(), identity.key_length}, {cert.data(), identity.cert_length}));
    flash_image.fill(0xFF);
    EXPECT_EQ(spool.mount(), SpoolStatus::ok);
    Service failed;
    EXPECT_EQ(relay.start(failed), hal::NetStatus::ok);
  }
  ~RelayOverLwip() { relay.shut_down(); }

  void step() {
    relay.poll(clock.monotonic_ms());
    net.wait(0);
  }

  LoopbackDriver driver;
  hal::LwipNet net{driver};
  std::array<std::uint8_t, flash_geometry.total_bytes()> flash_image{};
  hal::MemoryFlash flash{flash_image, flash_geometry};
  Accounts accounts{config};
  Spool spool{flash, accounts};
  LoginService logins{config, accounts};
  RelayServices services{config, net, clock, log, spool, tls, accounts, logins};
  Relay relay{services};
};

// A line-oriented client on the same lwIP stack, stepping the relay as it waits.
class Client {
 public:
  Client(RelayOverLwip& relay, Service service) : relay_(relay) {
    EXPECT_EQ(relay.net.connect(loopback(relay.relay.bound_port(service)), stream_), hal::NetStatus::ok);
  }
  ~Client() { relay_.net.close(stream_); }

  // The next complete reply: for SMTP up to the line with a space after the code.
  std::string reply() {
    std::string line;
    step_until([&] { step(); }, [&] {
      const std::size_t end = find_reply_end();
      if (end == std::string::npos) return false;
      line = buffer_.substr(0, end);
      buffer_.erase(0, end);
      return true;
    });
    return line;
  }

  // A POP3 multi-line answer up to and including ".\r\n".
  std::string multiline() {
    std::string body;
    step_until([&] { step(); }, [&] {
      const std::size_t end = buffer_.find("\r\n.\r\n");
      if (end == std::string::npos) return false;
      body = buffer_.substr(0, end + 5);
      buffer_.erase(0, end + 5);
      return true;
    });
    return body;
  }

  void send(std::string_view text) {
    EXPECT_TRUE(send_all(relay_.net, stream_, text, [&] { step(); }));
  }

  std::string command(std::string_view text) {
    send(text);
    return reply();
  }

 private:
  void step() {
    relay_.step();
    drain(relay_.net, stream_, buffer_);
  }

  std::size_t find_reply_end() const {
    for (std::size_t start = 0; start < buffer_.size();) {
      const std::size_t end = buffer_.find("\r\n", start);
      if (end == std::string::npos) return std::string::npos;
      const bool continued = end - start > 3 && buffer_[start + 3] == '-';
      if (!continued) return end + 2;
      start = end + 2;
    }
    return std::string::npos;
  }

  RelayOverLwip& relay_;
  hal::StreamId stream_ = hal::invalid_id;
  std::string buffer_;
};

void submit(RelayOverLwip& relay, std::string_view message) {
  Client smtp(relay, Service::smtp);
  EXPECT_EQ(smtp.reply().substr(0, 4), "220 ");
  EXPECT_EQ(smtp.command("EHLO client.example\r\n").substr(0, 4), "250-");
  EXPECT_EQ(smtp.command("MAIL FROM:<sender@example.org>\r\n").substr(0, 3), "250");
  EXPECT_EQ(smtp.command("RCPT TO:<user@localhost>\r\n").substr(0, 3), "250");
  EXPECT_EQ(smtp.command("DATA\r\n").substr(0, 3), "354");
  std::string stuffed;
  for (std::size_t start = 0; start < message.size();) {
    const std::size_t end = message.find("\r\n", start) + 2;
    const std::string_view line = message.substr(start, end - start);
    if (line.starts_with(".")) stuffed += ".";
    stuffed += line;
    start = end;
  }
  EXPECT_EQ(smtp.command(stuffed + ".\r\n").substr(0, 3), "250");
  EXPECT_EQ(smtp.command("QUIT\r\n").substr(0, 3), "221");
}

std::string unstuff_and_strip_received(std::string body) {
  body.erase(0, body.find("\r\n") + 2);  // "+OK ..." status line
  body.erase(body.size() - 3);           // ".\r\n"
  std::string out;
  for (std::size_t start = 0; start < body.size();) {
    const std::size_t end = body.find("\r\n", start) + 2;
    std::string_view line = std::string_view(body).substr(start, end - start);
    if (line.starts_with("..")) line.remove_prefix(1);
    out += line;
    start = end;
  }
  // The relay prepends one folded Received header.
  std::size_t header_end = out.find("\r\n") + 2;
  while (out[header_end] == '\t' || out[header_end] == ' ') header_end = out.find("\r\n", header_end) + 2;
  return out.substr(header_end);
}

std::string retrieve_first(RelayOverLwip& relay, int expected_count) {
  Client pop3(relay, Service::pop3);
  EXPECT_EQ(pop3.reply().substr(0, 3), "+OK");
  EXPECT_EQ(pop3.command("USER user\r\n").substr(0, 3), "+OK");
  EXPECT_EQ(pop3.command("PASS " + std::string(password) + "\r\n").substr(0, 3), "+OK");
  EXPECT_EQ(pop3.command("STAT\r\n").substr(0, 5), "+OK " + std::to_string(expected_count));
  pop3.send("RETR 1\r\n");
  const std::string message = unstuff_and_strip_received(pop3.multiline());
  EXPECT_EQ(pop3.command("QUIT\r\n").substr(0, 3), "+OK");
  return message;
}

TEST(RelayOverLwip, SmtpInPop3OutByteForByte) {
  auto owner = std::make_unique<RelayOverLwip>();  // large: a flash image and the relay's tables
  RelayOverLwip& relay = *owner;
  const std::string message = "From: a@example.org\r\nSubject: lwip\r\n\r\nfirst\r\n.dot line\r\n..two\r\n";
  submit(relay, message);
  EXPECT_EQ(retrieve_first(relay, 1), message);
}

TEST(RelayOverLwip, MessageLargerThanEveryWindowAndBuffer) {
  auto owner = std::make_unique<RelayOverLwip>();  // large: a flash image and the relay's tables
  RelayOverLwip& relay = *owner;
  std::string message = "Subject: big\r\n\r\n";
  for (int i = 0; message.size() < 120'000; ++i) message += "line " + std::to_string(i) + " of the body\r\n";
  submit(relay, message);
  EXPECT_EQ(retrieve_first(relay, 1), message);
}

TEST(RelayOverLwip, WrongPop3PasswordIsRefused) {
  auto owner = std::make_unique<RelayOverLwip>();  // large: a flash image and the relay's tables
  RelayOverLwip& relay = *owner;
  Client pop3(relay, Service::pop3);
  EXPECT_EQ(pop3.reply().substr(0, 3), "+OK");
  EXPECT_EQ(pop3.command("USER user\r\n").substr(0, 3), "+OK");
  EXPECT_EQ(pop3.command("PASS wrong\r\n").substr(0, 4), "-ERR");
}

}  // namespace
}  // namespace pigeon::test
