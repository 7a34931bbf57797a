// A session whose commit waits for the loop's flash sync (group commit,
// docs/architecture.md §9) while its client goes away. The relay once resumed
// the engine of such a session after the close had destroyed it
// (SessionHooks::sync_finished after closed()): undefined behaviour that the
// host-asan preset catches (AddressSanitizer, and _GLIBCXX_ASSERTIONS for
// std::optional's checked access). Here the relay runs over a scripted network
// that hands it, in one loop round, the client's last command and then a reset
// or a half-close, so that the close falls between the commit and the sync.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <deque>
#include <string>
#include <vector>

#include "firmware/relay.hpp"
#include "hal/sim/ram_flash.hpp"
#include "tests/support/relay_basics.hpp"

namespace pigeon {
namespace {

constexpr std::uint16_t first_port = 10000;
constexpr std::string_view password = "sync-test-password";
// Loop rounds a step of the dialogue may take (a login derives its key in steps).
constexpr int max_rounds = 10000;

// How a client's input ends once its scripted bytes are read.
enum class InputEnd { open, half_close, reset };

// hal::Net for the relay alone: the test connects clients to its listeners,
// says what each sends and how its input ends, and reads what the relay sent.
class ScriptedNet final : public hal::Net {
 public:
  struct Client {
    std::string input;
    InputEnd end = InputEnd::open;
    std::string received;  // what the relay sent
    bool closed_by_relay = false;
  };

  hal::StreamId connect_client(std::uint16_t port) {
    clients_.emplace_back();
    waiting_[port - first_port].push_back(static_cast<hal::StreamId>(clients_.size() - 1));
    return static_cast<hal::StreamId>(clients_.size() - 1);
  }
  Client& client(hal::StreamId stream) { return clients_[static_cast<std::size_t>(stream)]; }

  hal::NetStatus listen(const hal::Endpoint&, hal::ListenerId& out) override {
    out = listeners_++;
    return hal::NetStatus::ok;
  }
  std::uint16_t local_port(hal::ListenerId listener) override {
    return static_cast<std::uint16_t>(first_port + listener);
  }
  hal::NetStatus accept(hal::ListenerId listener, hal::StreamId& out, hal::Endpoint& peer) override {
    auto& queue = waiting_[static_cast<std::size_t>(listener)];
    if (queue.empty()) return hal::NetStatus::would_block;
    out = queue.front();
    queue.pop_front();
    peer.address.bytes[0] = 192;
    peer.address.bytes[3] = static_cast<std::uint8_t>(out + 1);
    peer.port = 40000;
    return hal::NetStatus::ok;
  }
  hal::NetStatus connect(const hal::Endpoint&, hal::StreamId&) override { return hal::NetStatus::refused; }
  bool connected(hal::StreamId) override { return false; }
  hal::IoResult receive(hal::StreamId stream, std::span<std::uint8_t> out) override {
    Client& c = client(stream);
    if (c.input.empty()) {
      switch (c.end) {
        case InputEnd::open: return {hal::NetStatus::would_block, 0};
        case InputEnd::half_close: return {hal::NetStatus::closed, 0};
        case InputEnd::reset: return {hal::NetStatus::error, 0};
      }
    }
    const std::size_t bytes = std::min(out.size(), c.input.size());
    c.input.copy(reinterpret_cast<char*>(out.data()), bytes);
    c.input.erase(0, bytes);
    return {hal::NetStatus::ok, bytes};
  }
  hal::IoResult send(hal::StreamId stream, std::span<const std::uint8_t> data) override {
    Client& c = client(stream);
    if (c.end == InputEnd::reset) return {hal::NetStatus::error, 0};
    c.received.append(reinterpret_cast<const char*>(data.data()), data.size());
    return {hal::NetStatus::ok, data.size()};
  }
  void set_no_delay(hal::StreamId) override {}
  void close(hal::StreamId stream) override { client(stream).closed_by_relay = true; }
  void set_receive_interest(hal::StreamId, bool) override {}
  void set_accept_interest(hal::ListenerId, bool) override {}
  void wait(std::uint32_t) override {}

 private:
  std::deque<Client> clients_;
  std::array<std::deque<hal::StreamId>, service_count> waiting_;
  hal::ListenerId listeners_ = 0;
};

class SessionSyncTest : public ::testing::Test, public test::RelayBasics {
 protected:
  SessionSyncTest() {
    apply_config_line(config, "plaintext_login = pop3");
    apply_config_line(config, "log_level = warning");
    add_user(password);
    EXPECT_TRUE(logins.start(random));
    flash_bytes.fill(0xFF);
    EXPECT_EQ(spool.mount(), SpoolStatus::ok);
    Service failed;
    EXPECT_EQ(relay.start(failed), hal::NetStatus::ok);
  }
  ~SessionSyncTest() override { relay.shut_down(); }

  hal::StreamId connect(Service service) { return net.connect_client(relay.bound_port(service)); }

  // Runs the relay until the client has received `text` (after what it had).
  void await(hal::StreamId stream, std::string_view text) {
    const std::size_t from = net.client(stream).received.size();
    for (int round = 0; round < max_rounds; ++round) {
      if (net.client(stream).received.find(text, from) != std::string::npos) return;
      relay.poll(clock.monotonic_ms());
    }
    FAIL() << "no \"" << text << "\" in: " << net.client(stream).received;
  }
  void say(hal::StreamId stream, std::string_view command, std::string_view answer) {
    net.client(stream).input += command;
    await(stream, answer);
  }
  void run_until_closed(hal::StreamId stream) {
    for (int round = 0; round < max_rounds && !net.client(stream).closed_by_relay; ++round) {
      relay.poll(clock.monotonic_ms());
    }
    EXPECT_TRUE(net.client(stream).closed_by_relay);
  }
  std::size_t messages_of_user() {
    std::array<MaildropEntry, 8> entries{};
    return spool.list_mailbox("user", entries);
  }

  // An SMTP client up to the 354 of DATA.
  hal::StreamId open_message() {
    const hal::StreamId smtp = connect(Service::smtp);
    await(smtp, "220 ");
    say(smtp, "EHLO client.example\r\n", "250 ");
    say(smtp, "MAIL FROM:<sender@example.org>\r\n", "250 ");
    say(smtp, "RCPT TO:<user@localhost>\r\n", "250 ");
    say(smtp, "DATA\r\n", "354 ");
    return smtp;
  }

  static constexpr hal::FlashGeometry geometry{4 * 1024, 16, 16};
  std::array<std::uint8_t, geometry.total_bytes()> flash_bytes{};
  std::array<std::uint8_t, geometry.total_bytes() / geometry.program_unit_bytes> flash_units{};
  hal::RamFlash flash{geometry, flash_bytes, flash_units};
  Accounts accounts{config};
  Spool spool{flash, accounts};
  LoginService logins{config, accounts};
  ScriptedNet net;
  RelayServices services{config, net, clock, log, spool, tls, accounts, logins};
  Relay relay{services};
};

// The final dot and a reset in one round: the message is committed, the
// session closes while the commit waits for the sync, and the sync then
// finds a session without an engine to answer.
TEST_F(SessionSyncTest, SmtpClientResetWhileItsMessageWaitsForTheSync) {
  const hal::StreamId smtp = open_message();
  const std::size_t before = net.client(smtp).received.size();
  net.client(smtp).input += "Subject: reset\r\n\r\nbody\r\n.\r\n";
  net.client(smtp).end = InputEnd::reset;
  relay.poll(clock.monotonic_ms());
  EXPECT_TRUE(net.client(smtp).closed_by_relay);
  EXPECT_EQ(net.client(smtp).received.size(), before);  // nobody was left to tell
  EXPECT_EQ(messages_of_user(), 1u);  // durable all the same
  // The relay goes on serving.
  const hal::StreamId next = open_message();
  say(next, "Subject: next\r\n\r\nbody\r\n.\r\n", "250 ");
  EXPECT_EQ(messages_of_user(), 2u);
}

// A transaction, QUIT and a half-close in one round: every reply still goes out.
TEST_F(SessionSyncTest, SmtpClientHalfClosedAfterQuitGetsItsReplies) {
  const hal::StreamId smtp = open_message();
  net.client(smtp).input += "Subject: half\r\n\r\nbody\r\n.\r\nQUIT\r\n";
  net.client(smtp).end = InputEnd::half_close;
  run_until_closed(smtp);
  const std::string& received = net.client(smtp).received;
  EXPECT_NE(received.find("250 2.0.0"), std::string::npos) << received;
  EXPECT_NE(received.find("221 "), std::string::npos) << received;
  EXPECT_EQ(messages_of_user(), 1u);
}

// The same for POP3: DELE and QUIT, then a reset while the deletion waits
// for the sync; the deletion is durable and the maildrop unlocked.
TEST_F(SessionSyncTest, Pop3ClientResetWhileItsDeletionWaitsForTheSync) {
  const hal::StreamId smtp = open_message();
  say(smtp, "Subject: to delete\r\n\r\nbody\r\n.\r\n", "250 ");
  const hal::StreamId pop3 = connect(Service::pop3);
  await(pop3, "+OK");
  say(pop3, "USER user\r\n", "+OK");
  say(pop3, "PASS " + std::string(password) + "\r\n", "+OK");
  say(pop3, "DELE 1\r\n", "+OK");
  const std::size_t before = net.client(pop3).received.size();
  net.client(pop3).input += "QUIT\r\n";
  net.client(pop3).end = InputEnd::reset;
  relay.poll(clock.monotonic_ms());
  EXPECT_TRUE(net.client(pop3).closed_by_relay);
  EXPECT_EQ(net.client(pop3).received.size(), before);
  EXPECT_EQ(messages_of_user(), 0u);
  // The maildrop was released: another client logs in.
  const hal::StreamId again = connect(Service::pop3);
  await(again, "+OK");
  say(again, "USER user\r\n", "+OK");
  say(again, "PASS " + std::string(password) + "\r\n", "+OK Logged in, 0 messages");
}

// Not about the sync, but this network shows loop rounds: a RETR whose reply
// is several output buffers long goes out within the round that read the
// command. (The reply's first buffer once ended the round, and the rest
// followed a poll later, in a segment of its own.)
TEST_F(SessionSyncTest, Pop3RetrLongerThanTheOutputBufferGoesOutInOneRound) {
  const hal::StreamId smtp = open_message();
  std::string body = "Subject: long\r\n\r\n";
  while (body.size() < 3 * PIGEON_OUTPUT_BUFFER_BYTES) body += std::string(70, 'b') + "\r\n";
  say(smtp, body + ".\r\n", "250 ");
  const hal::StreamId pop3 = connect(Service::pop3);
  await(pop3, "+OK");
  say(pop3, "USER user\r\n", "+OK");
  say(pop3, "PASS " + std::string(password) + "\r\n", "+OK Logged in, 1 messages");
  const std::size_t before = net.client(pop3).received.size();
  net.client(pop3).input += "RETR 1\r\n";
  relay.poll(clock.monotonic_ms());
  const std::string_view reply = std::string_view(net.client(pop3).received).substr(before);
  EXPECT_TRUE(reply.starts_with("+OK ")) << reply.substr(0, 80);
  EXPECT_TRUE(reply.ends_with(std::string(70, 'b') + "\r\n.\r\n")) << reply.size() << " bytes";
}

// Each accepted RCPT is on flash before its 250 (docs/spool-format.md §3.6),
// yet counts only with the commit: a mount in between finds no message, and
// RSET leaves nothing behind.
TEST_F(SessionSyncTest, RecipientsGoToFlashAsAcceptedAndCountOnlyWithTheCommit) {
  const hal::StreamId smtp = connect(Service::smtp);
  await(smtp, "220 ");
  say(smtp, "EHLO client.example\r\n", "250 ");
  say(smtp, "MAIL FROM:<sender@example.org>\r\n", "250 ");
  const std::vector<std::uint8_t> before_rcpt(flash_bytes.begin(), flash_bytes.end());
  say(smtp, "RCPT TO:<user@localhost>\r\n", "250 ");
  say(smtp, "RCPT TO:<postmaster@localhost>\r\n", "250 ");
  EXPECT_FALSE(std::equal(flash_bytes.begin(), flash_bytes.end(), before_rcpt.begin())) << "the recipients are on flash";
  // What a restart now would find, on a copy of the flash.
  const auto mounted_now = [&] {
    std::vector<std::uint8_t> bytes(flash_bytes.size()), units(flash_units.size());
    hal::RamFlash copy{geometry, bytes, units};  // starts erased: the live contents go in after
    std::copy(flash_bytes.begin(), flash_bytes.end(), bytes.begin());
    std::copy(flash_units.begin(), flash_units.end(), units.begin());
    Spool other{copy, accounts};
    EXPECT_EQ(other.mount(), SpoolStatus::ok);
    std::array<MaildropEntry, 8> entries{};
    return other.list_mailbox("user", entries);
  };
  EXPECT_EQ(mounted_now(), 0u) << "not a message before its commit";
  say(smtp, "RSET\r\n", "250 ");
  EXPECT_EQ(messages_of_user(), 0u);
  say(smtp, "MAIL FROM:<sender@example.org>\r\n", "250 ");
  say(smtp, "RCPT TO:<user@localhost>\r\n", "250 ");
  say(smtp, "DATA\r\n", "354 ");
  say(smtp, "Subject: one\r\n\r\nbody\r\n.\r\n", "250 ");
  EXPECT_EQ(messages_of_user(), 1u);
  EXPECT_EQ(mounted_now(), 1u);
}

// The open message fails while recipients go to flash (here a program that
// fails): the RCPT gets 451, and since the recipients accepted before went
// with the message, so does every later RCPT and DATA until the transaction
// starts again.
TEST_F(SessionSyncTest, RecipientThatCannotBeWrittenFailsTheWholeTransaction) {
  const hal::StreamId smtp = connect(Service::smtp);
  await(smtp, "220 ");
  say(smtp, "EHLO client.example\r\n", "250 ");
  say(smtp, "MAIL FROM:<sender@example.org>\r\n", "250 ");
  say(smtp, "RCPT TO:<user@localhost>\r\n", "250 ");
  flash.cut_power_after(0, false, 0);
  say(smtp, "RCPT TO:<postmaster@localhost>\r\n", "451 4.3.0");
  flash.restore_power();
  say(smtp, "RCPT TO:<user@localhost>\r\n", "451 4.3.0");
  say(smtp, "DATA\r\n", "451 4.3.0");
  EXPECT_EQ(messages_of_user(), 0u);
}

}  // namespace
}  // namespace pigeon
