#include "protocol/smtp_client.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>


namespace pigeon::protocol {
namespace {

struct Recorder final : SmtpClientEvents {
  void recipient_result(std::size_t index, const SmtpClientReply& reply) override {
    results.push_back(std::to_string(index) + " " + std::to_string(reply.code) + " " + std::string(reply.enhanced));
  }
  void transaction_finished() override { ++transactions; }
  void session_failed(const SmtpClientReply& reply) override {
    failure = std::to_string(reply.code) + " " + std::string(reply.enhanced) + " " + std::string(reply.text);
  }
  std::optional<std::string_view> recipient_address(std::size_t index, std::span<char, max_path_bytes>) override {
    ++address_reads;
    if (index == unreadable_recipient) return std::nullopt;
    return recipients[index];
  }
  std::optional<std::size_t> read_body(std::uint32_t offset, std::span<std::uint8_t> out) override {
    if (unreadable_at && offset >= unreadable_at) return std::nullopt;
    const std::size_t available = std::min<std::size_t>(readable_body_bytes(), body.size()) - offset;
    const std::size_t length = std::min({out.size(), available, max_piece});
    std::copy_n(body.begin() + offset, length, out.begin());
    return length;
  }
  std::size_t readable_body_bytes() const { return truncate_at ? truncate_at : body.size(); }

  std::vector<std::string> results;
  int transactions = 0;
  std::string failure;
  std::string body = "Subject: hi\r\n\r\nhello\r\n.dot line\r\n";
  std::size_t max_piece = 7;   // small pieces exercise the streaming
  std::size_t truncate_at = 0;  // pretend the spool fails after this many bytes
  std::size_t unreadable_at = 0;  // ... or says it cannot read from this offset on
  std::span<const std::string_view> recipients;  // of the message being sent
  std::size_t unreadable_recipient = SIZE_MAX;   // the spool cannot read this one's address
  std::size_t address_reads = 0;
};

// A message for the engine and the addresses its recipient_address() hands out.
struct Outgoing {
  SmtpClientMessage message;
  std::span<const std::string_view> recipients;
};

// One step of a scripted conversation: what the server says, then what the
// test does once the engine has taken it.
struct Step {
  std::string server;
  enum class Then { nothing, send, quit } then = Then::nothing;
};

class Harness {
 public:
  explicit Harness(SmtpClientSettings settings = default_settings())
      : settings_(settings), client_(events, out_, settings_) {}

  static SmtpClientSettings default_settings() {
    SmtpClientSettings settings;
    settings.helo_name = "relay.example";
    return settings;
  }

  // Feeds `bytes` in pieces of the given sizes (the last one repeats), drains
  // the output after every piece, and returns what the client wrote.
  std::string server(const std::string& bytes, std::size_t piece = SIZE_MAX) {
    std::size_t given = 0;
    while (given < bytes.size()) {
      const std::size_t length = std::min(piece, bytes.size() - given);
      deliver(bytes.substr(given, length));
      given += length;
    }
    return take();
  }

  void deliver(const std::string& piece) {
    if (client_.awaiting_tls()) return;  // bytes before the handshake are dropped
    pending_ += piece;
    for (;;) {
      const std::size_t consumed = client_.feed(as_bytes(pending_));
      pending_.erase(0, consumed);
      drain();
      if (client_.awaiting_tls()) pending_.clear();  // RFC 3207 §4.2
      if (consumed == 0) break;
    }
  }

  std::string take() {
    drain();
    std::string result;
    result.swap(written_);
    return result;
  }

  void send(const Outgoing& outgoing) {
    events.recipients = outgoing.recipients;
    client_.send(outgoing.message);
  }

  std::string run(const std::vector<Step>& script, const Outgoing& message, std::mt19937* random) {
    std::string transcript;
    for (const Step& step : script) {
      std::size_t given = 0;
      while (given < step.server.size()) {
        const std::size_t length =
            random ? std::min<std::size_t>(1 + (*random)() % 9, step.server.size() - given) : step.server.size();
        deliver(step.server.substr(given, length));
        given += length;
      }
      if (client_.awaiting_tls()) client_.tls_started();
      if (step.then == Step::Then::send) send(message);
      if (step.then == Step::Then::quit) client_.quit();
      transcript += take();
    }
    return transcript;
  }

  SmtpClient& client() { return client_; }
  Recorder events;

 private:
  static std::span<const std::uint8_t> as_bytes(const std::string& text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
  }
  void drain() {
    for (int round = 0; round < 1000; ++round) {
      client_.pump();
      if (out_.empty()) return;
      const auto pending = out_.pending();
      written_.append(reinterpret_cast<const char*>(pending.data()), pending.size());
      out_.consume(pending.size());
    }
  }

  std::array<std::uint8_t, 1024> storage_{};
  OutputBuffer out_{storage_};
  SmtpClientSettings settings_;
  SmtpClient client_;
  std::string pending_;
  std::string written_;
};

const std::array<std::string_view, 2> two_recipients{"a@example.org", "b@example.org"};

Outgoing message_to(std::span<const std::string_view> recipients, std::uint32_t size) {
  Outgoing message;
  message.message.reverse_path = "alerts@relay.example";
  message.message.recipient_count = recipients.size();
  message.message.size_bytes = size;
  message.recipients = recipients;
  return message;
}

constexpr std::string_view ehlo_plain = "250-mx.example hello\r\n250-SIZE 1000000\r\n250 ENHANCEDSTATUSCODES\r\n";
constexpr std::string_view ehlo_pipelining =
    "250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE\r\n250-8BITMIME\r\n250 AUTH LOGIN PLAIN\r\n";

TEST(SmtpClient, SendsOneCommandAtATimeWithoutPipelining) {
  Harness h;
  Recorder& events = h.events;
  const auto message = message_to(two_recipients, static_cast<std::uint32_t>(events.body.size()));
  EXPECT_EQ(h.server("220 mx.example ESMTP\r\n"), "EHLO relay.example\r\n");
  EXPECT_EQ(h.server(std::string(ehlo_plain)), "");
  ASSERT_TRUE(h.client().ready_for_message());
  EXPECT_TRUE(h.client().capabilities().size);
  EXPECT_EQ(h.client().capabilities().max_size_bytes, 1000000u);
  h.send(message);
  EXPECT_EQ(h.take(), "MAIL FROM:<alerts@relay.example> SIZE=33\r\n");
  EXPECT_EQ(h.server("250 2.1.0 OK\r\n"), "RCPT TO:<a@example.org>\r\n");
  EXPECT_EQ(h.server("250 2.1.5 OK\r\n"), "RCPT TO:<b@example.org>\r\n");
  EXPECT_EQ(h.server("550 5.1.1 No such user\r\n"), "DATA\r\n");
  EXPECT_EQ(h.client().waiting_for(), SmtpClient::Wait::data);
  EXPECT_EQ(h.server("354 go ahead\r\n"), "Subject: hi\r\n\r\nhello\r\n..dot line\r\n.\r\n");
  EXPECT_EQ(h.client().waiting_for(), SmtpClient::Wait::data_end);
  EXPECT_EQ(h.server("250 2.0.0 queued as 1\r\n"), "");
  EXPECT_EQ(events.results, (std::vector<std::string>{"1 550 5.1.1", "0 250 2.0.0"}));
  EXPECT_EQ(events.transactions, 1);
  h.client().quit();
  EXPECT_EQ(h.take(), "QUIT\r\n");
  h.server("221 bye\r\n");
  EXPECT_TRUE(h.client().finished());
  EXPECT_EQ(events.failure, "");
}

TEST(SmtpClient, PipelinesMailRcptAndDataInOneFlight) {
  Harness h;
  const auto message = message_to(two_recipients, static_cast<std::uint32_t>(h.events.body.size()));
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_pipelining));
  h.send(message);
  EXPECT_EQ(h.take(),
            "MAIL FROM:<alerts@relay.example> SIZE=33\r\nRCPT TO:<a@example.org>\r\n"
            "RCPT TO:<b@example.org>\r\nDATA\r\n");
  EXPECT_EQ(h.server("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"), "Subject: hi\r\n\r\nhello\r\n..dot line\r\n.\r\n");
  h.server("250 2.0.0 ok\r\n");
  EXPECT_EQ(h.events.results, (std::vector<std::string>{"0 250 2.0.0", "1 250 2.0.0"}));
}

TEST(SmtpClient, PipelinedRefusalOfEveryRecipientEndsWithRset) {
  Harness h;
  const auto message = message_to(two_recipients, 10);
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_pipelining));
  h.send(message);
  h.take();
  EXPECT_EQ(h.server("250 ok\r\n451 4.3.0 later\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n"),
            "RSET\r\n");
  EXPECT_EQ(h.events.transactions, 0);
  h.server("250 ok\r\n");
  EXPECT_EQ(h.events.results, (std::vector<std::string>{"0 451 4.3.0", "1 550 5.1.1"}));
  EXPECT_EQ(h.events.transactions, 1);
  EXPECT_TRUE(h.client().ready_for_message());
}

TEST(SmtpClient, ServerSaying354WithNoRecipientGetsAnEmptyData) {
  Harness h;
  const std::array<std::string_view, 1> one{"a@example.org"};
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_pipelining));
  h.send(message_to(one, 10));
  h.take();
  EXPECT_EQ(h.server("250 ok\r\n550 no\r\n354 go\r\n"), ".\r\n");
  h.server("554 no recipients\r\n");
  EXPECT_EQ(h.events.results, (std::vector<std::string>{"0 550 "}));
  EXPECT_TRUE(h.client().ready_for_message());
}

TEST(SmtpClient, RefusedSenderFailsEveryRecipientWithoutRset) {
  Harness h;
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_plain));
  h.send(message_to(two_recipients, 10));
  h.take();
  EXPECT_EQ(h.server("553 5.7.1 sender refused\r\n"), "");
  EXPECT_EQ(h.events.results, (std::vector<std::string>{"0 553 5.7.1", "1 553 5.7.1"}));
  EXPECT_TRUE(h.client().ready_for_message());
}

TEST(SmtpClient, SeveralTransactionsOnOneConnection) {
  Harness h;
  const std::array<std::string_view, 1> one{"a@example.org"};
  const auto message = message_to(one, static_cast<std::uint32_t>(h.events.body.size()));
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_pipelining));
  for (int i = 0; i < 3; ++i) {
    h.send(message);
    EXPECT_EQ(h.server("250 ok\r\n250 ok\r\n354 go\r\n").substr(0, 4), "MAIL");
    h.server("250 ok\r\n");
  }
  EXPECT_EQ(h.events.transactions, 3);
  EXPECT_EQ(h.events.results.size(), 3u);
}

TEST(SmtpClient, FallsBackToHeloWhenEhloIsUnknown) {
  Harness h;
  h.server("220 old.example SMTP\r\n");
  EXPECT_EQ(h.server("502 5.5.1 what?\r\n"), "HELO relay.example\r\n");
  h.server("250 old.example\r\n");
  ASSERT_TRUE(h.client().ready_for_message());
  EXPECT_FALSE(h.client().capabilities().extended);
  h.send(message_to(two_recipients, 10));
  EXPECT_EQ(h.take(), "MAIL FROM:<alerts@relay.example>\r\n");
}

TEST(SmtpClient, GreetingOtherThan220FailsTheSession) {
  Harness h;
  EXPECT_EQ(h.server("421 4.3.2 busy, try later\r\n"), "");
  EXPECT_TRUE(h.client().finished());
  EXPECT_EQ(h.events.failure, "421 4.3.2 busy, try later");
}

TEST(SmtpClient, A421InTheMiddleFailsTheSessionAndLeavesRecipientsUnreported) {
  Harness h;
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_plain));
  h.send(message_to(two_recipients, 10));
  h.server("250 ok\r\n");
  h.server("421 4.4.2 timeout\r\n");
  EXPECT_TRUE(h.client().finished());
  EXPECT_EQ(h.events.failure, "421 4.4.2 timeout");
  EXPECT_TRUE(h.events.results.empty());
}

TEST(SmtpClient, MalformedRepliesFailTheSession) {
  Harness malformed;
  malformed.server("hello\r\n");
  EXPECT_EQ(malformed.events.failure, "421 4.5.0 malformed reply from the server");
}

// Whether an unsolicited reply comes in the same segment as the previous one
// or after the next command must not change what it means (the fuzz target
// checks that every split gives the same events): while the engine is idle it
// reads nothing, and the reply answers the command the caller gives next.
TEST(SmtpClient, AReplyWhileIdleWaitsForTheNextCommand) {
  const std::string closing = "421 4.3.2 shutting down\r\n";
  for (const bool same_segment : {true, false}) {
    Harness h;
    h.server("220 mx\r\n");
    h.server(std::string(ehlo_plain) + (same_segment ? closing : ""));
    ASSERT_TRUE(h.client().ready_for_message());
    EXPECT_EQ(h.events.failure, "");
    h.send(message_to(two_recipients, 10));
    EXPECT_EQ(h.take(), "MAIL FROM:<alerts@relay.example> SIZE=10\r\n");
    h.deliver(same_segment ? "" : closing);
    EXPECT_EQ(h.events.failure, "421 4.3.2 shutting down") << same_segment;
    EXPECT_TRUE(h.events.results.empty());
    EXPECT_TRUE(h.client().finished());
  }
}

// Reply text reaches logs and delivery status notifications.
TEST(SmtpClient, ReplyTextOutsidePrintableAsciiIsWithheld) {
  const std::string withheld = "421 4.3.2 (reply text withheld: not printable ASCII)";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"421 4.3.2 busy\rX-Injected: 1\r\n", withheld},
      {std::string("421 4.3.2 busy\0\r\n", 17), withheld},
      {"421 4.3.2 busy\x1b[2J\r\n", withheld},
      {"421 4.3.2 b\xC3\xA4r\r\n", withheld},
      {"421 4.3.2 busy\tlater\r\n", "421 4.3.2 busy\tlater"},
  };
  for (const auto& [greeting, failure] : cases) {
    Harness h;
    h.server(greeting);
    EXPECT_EQ(h.events.failure, failure) << greeting;
  }
}

TEST(SmtpClient, ReadsEnhancedCodesOnlyWhenTheyMatchTheReplyClass) {
  Harness h;
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_pipelining));
  h.send(message_to(two_recipients, 10));
  h.take();
  h.server("250 ok\r\n450 4.2.10 mailbox busy\r\n550 2.1.5 odd\r\n554 nothing\r\n250 reset\r\n");
  EXPECT_EQ(h.events.results, (std::vector<std::string>{"0 450 4.2.10", "1 550 "}));
}

TEST(SmtpClient, StarttlsRequiredButNotOfferedSendsNothing) {
  auto settings = Harness::default_settings();
  settings.starttls = true;
  Harness h(settings);
  h.server("220 mx\r\n");
  EXPECT_EQ(h.server(std::string(ehlo_pipelining)), "");
  EXPECT_TRUE(h.client().finished());
  EXPECT_EQ(h.events.failure, "454 4.7.0 smarthost does not offer STARTTLS");
}

TEST(SmtpClient, StarttlsDiscardsInjectedBytesAndForgetsTheFirstEhlo) {
  auto settings = Harness::default_settings();
  settings.starttls = true;
  Harness h(settings);
  h.server("220 mx\r\n");
  EXPECT_EQ(h.server("250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
  // A man in the middle appends replies after the 220; they must not be read
  // as answers to commands sent under TLS.
  EXPECT_EQ(h.server("220 2.0.0 go ahead\r\n250-evil\r\n250 PIPELINING\r\n"), "");
  ASSERT_TRUE(h.client().awaiting_tls());
  h.client().tls_started();
  EXPECT_FALSE(h.client().capabilities().pipelining);
  EXPECT_EQ(h.take(), "EHLO relay.example\r\n");
  h.server("250-mx\r\n250 SIZE 100\r\n");
  ASSERT_TRUE(h.client().ready_for_message());
  EXPECT_FALSE(h.client().capabilities().pipelining);
  EXPECT_FALSE(h.client().capabilities().starttls);
}

TEST(SmtpClient, AuthPlainAfterTls) {
  auto settings = Harness::default_settings();
  settings.tls_active = true;
  settings.user = "relay";
  settings.password = "secret";
  Harness h(settings);
  h.server("220 mx\r\n");
  EXPECT_EQ(h.server(std::string(ehlo_pipelining)), "AUTH PLAIN AHJlbGF5AHNlY3JldA==\r\n");
  EXPECT_EQ(h.client().waiting_for(), SmtpClient::Wait::auth);
  h.server("235 2.7.0 ok\r\n");
  EXPECT_TRUE(h.client().ready_for_message());
}

TEST(SmtpClient, AuthLoginAfterTls) {
  auto settings = Harness::default_settings();
  settings.tls_active = true;
  settings.user = "relay";
  settings.password = "secret";
  Harness h(settings);
  h.server("220 mx\r\n");
  EXPECT_EQ(h.server("250-mx\r\n250 AUTH LOGIN\r\n"), "AUTH LOGIN\r\n");
  EXPECT_EQ(h.server("334 VXNlcm5hbWU6\r\n"), "cmVsYXk=\r\n");
  EXPECT_EQ(h.server("334 UGFzc3dvcmQ6\r\n"), "c2VjcmV0\r\n");
  h.server("535 5.7.8 bad credentials\r\n");
  EXPECT_EQ(h.events.failure, "535 5.7.8 bad credentials");
}

TEST(SmtpClient, NeverSendsCredentialsWithoutTls) {
  auto settings = Harness::default_settings();
  settings.user = "relay";
  settings.password = "secret";
  Harness h(settings);
  h.server("220 mx\r\n");
  EXPECT_EQ(h.server(std::string(ehlo_pipelining)), "");
  EXPECT_EQ(h.events.failure, "530 5.7.0 will not send credentials without TLS");
}

TEST(SmtpClient, EightBitBodyNeeds8bitmime) {
  Harness without;
  without.server("220 mx\r\n");
  without.server(std::string(ehlo_plain));
  auto message = message_to(two_recipients, 10);
  message.message.body_8bit = true;
  without.send(message);
  EXPECT_EQ(without.take(), "");
  EXPECT_EQ(without.events.results, (std::vector<std::string>{"0 554 5.6.3", "1 554 5.6.3"}));
  EXPECT_EQ(without.events.transactions, 1);
  EXPECT_TRUE(without.client().ready_for_message());

  Harness with;
  with.server("220 mx\r\n");
  with.server(std::string(ehlo_pipelining));
  with.send(message);
  EXPECT_EQ(with.take().substr(0, 54), "MAIL FROM:<alerts@relay.example> SIZE=10 BODY=8BITMIME");
}

TEST(SmtpClient, MessageOverTheServersSizeLimitIsRefusedBeforeSending) {
  Harness h;
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_plain));
  h.send(message_to(two_recipients, 1000001));
  EXPECT_EQ(h.take(), "");
  EXPECT_EQ(h.events.results, (std::vector<std::string>{"0 552 5.3.4", "1 552 5.3.4"}));
}

// Sends one message whose body the events cannot give whole; what went out.
std::string send_with_unreadable_body(Harness& h) {
  const std::array<std::string_view, 1> one{"a@example.org"};
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_pipelining));
  h.send(message_to(one, static_cast<std::uint32_t>(h.events.body.size())));
  h.take();
  return h.server("250 ok\r\n250 ok\r\n354 go\r\n");
}

TEST(SmtpClient, ABodyShorterThanAnnouncedNeverGetsItsFinalDot) {
  Harness h;
  h.events.truncate_at = 20;
  const std::string sent = send_with_unreadable_body(h);
  EXPECT_EQ(sent.find("\r\n.\r\n"), std::string::npos);
  EXPECT_EQ(h.events.failure, "451 4.3.0 message body unreadable");
}

TEST(SmtpClient, AnUnreadableBodyNeverGetsItsFinalDot) {
  Harness h;
  h.events.unreadable_at = 21;
  const std::string sent = send_with_unreadable_body(h);
  EXPECT_NE(sent.find("Subject: hi"), std::string::npos);
  EXPECT_EQ(sent.find("\r\n.\r\n"), std::string::npos);
  EXPECT_EQ(h.events.failure, "451 4.3.0 message body unreadable");
}

TEST(SmtpClient, LargeRecipientListsFlowAsTheOutputDrains) {
  Harness h;
  std::vector<std::string> addresses;
  for (int i = 0; i < 100; ++i) addresses.push_back("recipient" + std::to_string(i) + "@example.org");
  std::vector<std::string_view> views(addresses.begin(), addresses.end());
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_pipelining));
  h.send(message_to(views, 10));
  std::string replies = "250 ok\r\n";
  for (int i = 0; i < 100; ++i) replies += "250 ok\r\n";
  const std::string sent = h.take() + h.server(replies);
  EXPECT_NE(sent.find("RCPT TO:<recipient99@example.org>\r\nDATA\r\n"), std::string::npos);
}

// Addresses are pulled one RCPT at a time: the engine keeps no list of them.
TEST(SmtpClient, RecipientAddressesArePulledAsEachRcptIsWritten) {
  Harness h;
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_plain));
  h.send(message_to(two_recipients, 10));
  EXPECT_EQ(h.take(), "MAIL FROM:<alerts@relay.example> SIZE=10\r\n");
  EXPECT_EQ(h.events.address_reads, 0u);
  EXPECT_EQ(h.server("250 ok\r\n"), "RCPT TO:<a@example.org>\r\n");
  EXPECT_EQ(h.events.address_reads, 1u);
  EXPECT_EQ(h.server("250 ok\r\n"), "RCPT TO:<b@example.org>\r\n");
  EXPECT_EQ(h.events.address_reads, 2u);
}

TEST(SmtpClient, UnreadableRecipientAddressFailsTheSessionLocally) {
  Harness h;
  h.events.unreadable_recipient = 1;
  h.server("220 mx\r\n");
  h.server(std::string(ehlo_pipelining));
  h.send(message_to(two_recipients, 10));
  const std::string sent = h.take();
  EXPECT_NE(sent.find("RCPT TO:<a@example.org>\r\n"), std::string::npos);
  EXPECT_EQ(sent.find("RCPT TO:<b@"), std::string::npos);
  EXPECT_EQ(sent.find("DATA"), std::string::npos);
  EXPECT_EQ(h.events.failure, "451 4.3.0 recipient address unreadable");
  EXPECT_TRUE(h.client().finished());
}

// The same conversation in random splits gives the same bytes out and the
// same results as when every reply arrives whole.
TEST(SmtpClient, RandomSplitsGiveTheSameConversation) {
  auto settings = Harness::default_settings();
  settings.starttls = true;
  settings.user = "relay";
  settings.password = "secret";
  const std::vector<Step> script{
      {"220 mx ESMTP\r\n"},
      {"250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n"},
      {"220 2.0.0 ready\r\n250 injected\r\n"},
      {"250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n"},
      {"235 2.7.0 ok\r\n", Step::Then::send},
      {"250 2.1.0 ok\r\n250 2.1.5 ok\r\n452 4.5.3 too many\r\n354 go\r\n"},
      {"250 2.0.0 queued\r\n", Step::Then::quit},
      {"221 2.0.0 bye\r\n"},
  };
  Harness whole(settings);
  const auto message = message_to(two_recipients, static_cast<std::uint32_t>(whole.events.body.size()));
  const std::string expected = whole.run(script, message, nullptr);
  ASSERT_TRUE(whole.client().finished());
  ASSERT_EQ(whole.events.failure, "");
  ASSERT_EQ(whole.events.results, (std::vector<std::string>{"1 452 4.5.3", "0 250 2.0.0"}));
  ASSERT_NE(expected.find("AUTH PLAIN"), std::string::npos);

  std::mt19937 random(4);
  for (int round = 0; round < 50; ++round) {
    Harness split(settings);
    split.events.max_piece = 1 + random() % 40;
    EXPECT_EQ(split.run(script, message, &random), expected);
    EXPECT_EQ(split.events.results, whole.events.results);
    EXPECT_TRUE(split.client().finished());
  }
}

TEST(SmtpClient, ByteByByteGivesTheSameConversation) {
  Harness whole;
  Harness bytewise;
  const std::string transcript = "220 mx\r\n" + std::string(ehlo_pipelining);
  EXPECT_EQ(bytewise.server(transcript, 1), whole.server(transcript));
  EXPECT_TRUE(bytewise.client().ready_for_message());
  EXPECT_EQ(bytewise.client().capabilities().pipelining, true);
  EXPECT_EQ(bytewise.client().capabilities().auth_plain, true);
}

}  // namespace
}  // namespace pigeon::protocol
