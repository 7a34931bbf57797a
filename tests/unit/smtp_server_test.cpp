#include "protocol/smtp_server.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/feed_splits.hpp"

namespace pigeon::protocol {
namespace {

using testing::SplitPlan;
using testing::Transcript;
using testing::same_result_for_every_split;

// base64 of "\0alice\0secret", "alice" and "secret".
constexpr std::string_view plain_alice = "AGFsaWNlAHNlY3JldA==";
constexpr std::string_view login_alice = "YWxpY2U=";
constexpr std::string_view login_secret = "c2VjcmV0";

// Records every call and answers as the test says: by default it accepts;
// `answer()` sets the answer for one exact call, and a later() answer is
// resumed with `resumed` once the engine waits for it.
class FakePolicy final : public SmtpServerPolicy {
 public:
  void answer(const std::string& call, SmtpDecision now, SmtpDecision resumed = {}) {
    answers_[call] = {now, resumed};
  }
  bool storage_fails = false;
  bool tls_session_free = true;

  std::vector<std::string> calls;
  SmtpDecision take_resumed() { return resumed_; }

  SmtpDecision mail_from(std::string_view path, const MailParameters& params) override {
    return decide("mail_from <" + std::string(path) + "> size=" + std::to_string(params.declared_size_bytes) +
                  (params.body_8bit ? " 8bit" : ""));
  }
  SmtpDecision rcpt_to(std::string_view path) override { return decide("rcpt_to <" + std::string(path) + ">"); }
  SmtpDecision data_begin() override { return decide("data_begin"); }
  bool data_chunk(std::span<const std::uint8_t> bytes) override {
    if (storage_fails) return false;
    testing::record_data(calls, testing::text_of(bytes));
    return true;
  }
  SmtpDecision data_end() override { return decide("data_end"); }
  // Storage drops what data_chunk() took, so the record does too: how much
  // was taken before the engine gave up depends on how the input was cut.
  void data_abort() override {
    if (!calls.empty() && calls.back().starts_with("data ")) calls.pop_back();
    calls.emplace_back("data_abort");
  }
  void transaction_reset() override { calls.emplace_back("transaction_reset"); }
  bool reserve_tls() override { return tls_session_free; }
  SmtpDecision authenticate(std::string_view authzid, std::string_view authcid,
                            std::string_view password) override {
    return decide("authenticate [" + std::string(authzid) + "] " + std::string(authcid) + " " +
                  std::string(password));
  }

 private:
  struct Answer {
    SmtpDecision now;
    SmtpDecision resumed;
  };

  SmtpDecision decide(std::string call) {
    calls.push_back(call);
    const auto found = answers_.find(call);
    if (found == answers_.end()) return SmtpDecision::accepted();
    resumed_ = found->second.resumed;
    return found->second.now;
  }

  std::map<std::string, Answer> answers_;
  SmtpDecision resumed_;
};

SmtpServerSettings plain_settings() {
  SmtpServerSettings settings;
  settings.host_name = "relay.test";
  settings.max_message_bytes = 10000;
  settings.max_recipients = 3;
  settings.starttls_offered = true;
  settings.auth_requires_tls = true;
  return settings;
}

SmtpServerSettings tls_settings() {
  SmtpServerSettings settings = plain_settings();
  settings.tls_active = true;
  settings.starttls_offered = false;
  return settings;
}

// One SMTP session: the engine, its fake policy, and a client that sends
// input cut by a plan, waits for pending decisions and reads every reply.
class Session : public testing::EngineClient<Session> {
 public:
  explicit Session(const SmtpServerSettings& settings) : server_(policy, out_, settings) {
    server_.start();
  }

  FakePolicy policy;
  SmtpServer& server() { return server_; }
  std::vector<std::string>& calls() { return policy.calls; }

 private:
  friend class testing::EngineClient<Session>;

  void settle() {
    if (server_.awaiting_decision()) server_.resume(policy.take_resumed());
    output_.append(testing::text_of(out_.pending()));
    out_.consume(out_.size());
  }

  std::array<std::uint8_t, 2048> storage_{};
  OutputBuffer out_{storage_};
  SmtpServer server_;
};

using Configure = void (*)(FakePolicy&);

// The transcript of `input` sent in one turn, the same for every split.
Transcript run(std::string_view input, const SmtpServerSettings& settings = tls_settings(),
               Configure configure = [](FakePolicy&) {}) {
  return same_result_for_every_split([&](const SplitPlan& plan) {
    Session session(settings);
    configure(session.policy);
    session.send(input, plan);
    return session.transcript();
  });
}

constexpr std::string_view greeting = "220 relay.test ESMTP pigeon ready\r\n";
constexpr std::string_view ehlo_tls_reply =
    "250-relay.test greets client.test\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n";

std::string with_greeting(std::string_view replies) { return std::string(greeting).append(replies); }

using Calls = std::vector<std::string>;

// The longest EHLO reply: both names at 255 octets (a 524-octet first line),
// the largest SIZE and every extension. It fits an output buffer of just the
// engine's reserve, which is what feed() keeps free before each command.
// Four labels of 63 octets: a domain at its longest, 255 octets.
std::string longest_domain(char letter) {
  const std::string label(63, letter);
  return label + "." + label + "." + label + "." + label;
}

TEST(SmtpServer, LongestEhloReplyFitsTheReserve) {
  const std::string host = longest_domain('h');
  const std::string client = longest_domain('c');
  ASSERT_EQ(client.size(), SmtpServer::max_host_name_bytes);
  SmtpServerSettings settings = plain_settings();
  settings.host_name = host;
  settings.max_message_bytes = UINT32_MAX;
  settings.auth_requires_tls = false;
  std::vector<std::uint8_t> storage(SmtpServer::reply_reserve_bytes);
  OutputBuffer out(storage);
  FakePolicy policy;
  SmtpServer server(policy, out, settings);
  server.start();
  out.consume(out.size());

  const std::string command = "EHLO " + client + "\r\n";
  EXPECT_EQ(server.feed(testing::bytes_of(command)), command.size());
  const std::string first_line = "250-" + host + " greets " + client + "\r\n";
  EXPECT_EQ(first_line.size(), 524u);
  const std::string reply = first_line +
                            "250-PIPELINING\r\n250-SIZE 4294967295\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
                            "250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n";
  EXPECT_EQ(testing::text_of(out.pending()), reply);
  EXPECT_EQ(out.free_space(), SmtpServer::reply_reserve_bytes - reply.size());
}

TEST(SmtpServer, EhloBeforeTlsOffersStartTlsButNotAuth) {
  const Transcript t = run("EHLO client.test\r\n", plain_settings());
  EXPECT_EQ(t.output, with_greeting("250-relay.test greets client.test\r\n250-PIPELINING\r\n"
                                    "250-SIZE 10000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
                                    "250-STARTTLS\r\n250 HELP\r\n"));
}

TEST(SmtpServer, EhloUnderTlsOffersAuthButNotStartTls) {
  EXPECT_EQ(run("EHLO client.test\r\n").output, with_greeting(ehlo_tls_reply));
}

TEST(SmtpServer, HeloGivesOneLineAndNoExtensions) {
  EXPECT_EQ(run("HELO client.test\r\nHELO\r\n").output,
            with_greeting("250 relay.test greets client.test\r\n501 5.5.4 Syntax: EHLO hostname\r\n"));
}

TEST(SmtpServer, EhloRefusesControlBytesSpacesAndNonAsciiAndTheSessionGoesOn) {
  using namespace std::string_literals;  // "..."s keeps a NUL inside the text
  for (const std::string& bad : {"a\rb"s, "a\0b"s, "a\x1b[2Jb"s, "a\tb"s, "b\xC3\xA4r.example"s, "a..b"s, "[1.2.3]"s,
                                "a@b"s, std::string(256, 'a')}) {
    for (const std::string_view verb : {"EHLO ", "HELO "}) {
      const Transcript t = run(std::string(verb) + bad + "\r\nMAIL FROM:<a@example.org>\r\nHELO ok.test\r\n");
      EXPECT_EQ(t.output, with_greeting("501 5.5.2 Syntax: EHLO domain or address literal\r\n"
                                        "503 5.5.1 Send EHLO or HELO first\r\n250 relay.test greets ok.test\r\n"))
          << verb << bad;
    }
  }
}

TEST(SmtpServer, EhloTakesAddressLiteralsAndWhatDevicesSend) {
  for (const std::string_view name : {"[192.0.2.1]", "[IPv6:2001:db8::1]", "printer", "DESKTOP_7QX", "192.168.1.20",
                                      "fe80::1", "mail.example.org"}) {
    Session session(tls_settings());
    session.send("HELO " + std::string(name) + "\r\n", SplitPlan::whole());
    EXPECT_EQ(session.transcript().output, with_greeting("250 relay.test greets " + std::string(name) + "\r\n"));
    EXPECT_EQ(session.server().client_name(), name);
  }
}

TEST(SmtpServer, StoresOneMessageWithDotUnstuffing) {
  const Transcript t = run(
      "EHLO client.test\r\nMAIL FROM:<a@example.org> SIZE=120 BODY=8BITMIME\r\nRCPT TO:<b@example.net>\r\n"
      "DATA\r\nSubject: hi\r\n\r\n..leading dot\r\n..\r\nlast\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(t.output, with_greeting(std::string(ehlo_tls_reply) +
                                    "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"
                                    "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 OK\r\n221 2.0.0 Bye\r\n"));
  EXPECT_EQ(t.calls, (Calls{"mail_from <a@example.org> size=120 8bit", "rcpt_to <b@example.net>", "data_begin",
                            "data Subject: hi\r\n\r\n.leading dot\r\n.\r\nlast\r\n", "data_end",
                            "transaction_reset"}));
}

TEST(SmtpServer, AnswersAPipelinedGroupInOrder) {
  const Transcript t = run(
      "EHLO client.test\r\nMAIL FROM:<>\r\nRCPT TO:<x@example.net>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
      "body\r\n.\r\nNOOP\r\n",
      tls_settings(), [](FakePolicy& policy) {
        policy.answer("rcpt_to <x@example.net>", SmtpDecision::rejected({550, "5.1.1", "No such user"}));
      });
  EXPECT_EQ(t.output, with_greeting(std::string(ehlo_tls_reply) +
                                    "250 2.1.0 Sender OK\r\n550 5.1.1 No such user\r\n250 2.1.5 Recipient OK\r\n"
                                    "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 OK\r\n250 2.0.0 OK\r\n"));
  EXPECT_EQ(t.calls, (Calls{"mail_from <> size=0", "rcpt_to <x@example.net>", "rcpt_to <b@example.net>",
                            "data_begin", "data body\r\n", "data_end", "transaction_reset"}));
}

TEST(SmtpServer, WaitsForAPendingCommitThenAnswersWhatFollows) {
  const std::string input =
      "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n";
  const Transcript t = run(input, tls_settings(), [](FakePolicy& policy) {
    policy.answer("data_end", SmtpDecision::later(),
                  SmtpDecision::accepted({250, "2.0.0", "OK: message stored"}));
  });
  EXPECT_TRUE(t.output.ends_with("354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 OK: message stored\r\n"
                                 "250 2.0.0 OK\r\n"));

  Session session(tls_settings());
  session.policy.answer("data_end", SmtpDecision::later());
  session.server().feed(testing::bytes_of(input));
  EXPECT_TRUE(session.server().awaiting_decision());
  EXPECT_EQ(session.server().feed(testing::bytes_of("NOOP\r\n")), 0u) << "no input is read while waiting";
}

TEST(SmtpServer, SimpleCommands) {
  const Transcript t = run("EHLO client.test\r\nNOOP\r\nVRFY bob\r\nHELP\r\nEXPN list\r\nFROB\r\nRSET\r\n");
  EXPECT_EQ(t.output, with_greeting(std::string(ehlo_tls_reply) +
                                    "250 2.0.0 OK\r\n252 2.5.0 Cannot VRFY user, but will accept message\r\n"
                                    "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP "
                                    "STARTTLS AUTH\r\n502 5.5.1 Command not implemented\r\n"
                                    "500 5.5.1 Command unrecognized\r\n250 2.0.0 OK\r\n"));
}

TEST(SmtpServer, RsetAndEhloForgetTheEnvelope) {
  const Transcript t = run(
      "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRSET\r\nRCPT TO:<b@example.net>\r\n"
      "MAIL FROM:<a@example.org>\r\nEHLO client.test\r\nDATA\r\n");
  EXPECT_EQ(t.calls, (Calls{"mail_from <a@example.org> size=0", "transaction_reset",
                            "mail_from <a@example.org> size=0", "transaction_reset"}));
  EXPECT_TRUE(t.output.ends_with("250 2.0.0 OK\r\n503 5.5.1 Need MAIL before RCPT\r\n250 2.1.0 Sender OK\r\n" +
                                 std::string(ehlo_tls_reply) + "503 5.5.1 Need MAIL before DATA\r\n"));
}

TEST(SmtpServer, RefusesCommandsOutOfOrder) {
  const Transcript t = run(
      "MAIL FROM:<a@example.org>\r\nEHLO client.test\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
      "MAIL FROM:<a@example.org>\r\nMAIL FROM:<a@example.org>\r\nDATA\r\n");
  EXPECT_EQ(t.output, with_greeting("503 5.5.1 Send EHLO or HELO first\r\n" + std::string(ehlo_tls_reply) +
                                    "503 5.5.1 Need MAIL before RCPT\r\n503 5.5.1 Need MAIL before DATA\r\n"
                                    "250 2.1.0 Sender OK\r\n503 5.5.1 Nested MAIL command\r\n"
                                    "503 5.5.1 Need RCPT before DATA\r\n"));
}

TEST(SmtpServer, QuitEndsTheSessionAndReadsNoFurther) {
  Session session(tls_settings());
  session.send("QUIT\r\nNOOP\r\n", SplitPlan::whole());
  EXPECT_TRUE(session.server().finished());
  EXPECT_EQ(session.unconsumed(), "NOOP\r\n");
  EXPECT_EQ(session.transcript().output, with_greeting("221 2.0.0 Bye\r\n"));
}

TEST(SmtpServer, StartTlsForgetsEverythingSaidBefore) {
  const std::string before = "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nSTARTTLS\r\n";
  const std::string after = "MAIL FROM:<a@example.org>\r\nEHLO client.test\r\nSTARTTLS\r\n";
  const Transcript t = same_result_for_every_split([&](const SplitPlan& plan) {
    Session session(plain_settings());
    session.send(before, plan);
    EXPECT_EQ(session.handshake(), "");
    session.send(after, plan);
    return session.transcript();
  });
  EXPECT_EQ(t.output, with_greeting("250-relay.test greets client.test\r\n250-PIPELINING\r\n"
                                    "250-SIZE 10000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
                                    "250-STARTTLS\r\n250 HELP\r\n250 2.1.0 Sender OK\r\n"
                                    "220 2.0.0 Ready to start TLS\r\n503 5.5.1 Send EHLO or HELO first\r\n" +
                                    std::string(ehlo_tls_reply) + "503 5.5.1 TLS already active\r\n"));
  EXPECT_EQ(t.calls, (Calls{"mail_from <a@example.org> size=0", "<tls handshake>", "transaction_reset"}));
}

TEST(SmtpServer, StartTlsStopsReadingSoPipelinedBytesAreDropped) {
  Session session(plain_settings());
  session.send("EHLO client.test\r\nSTARTTLS\r\nMAIL FROM:<evil@example.org>\r\n", SplitPlan::whole());
  EXPECT_TRUE(session.server().awaiting_tls());
  EXPECT_EQ(session.handshake(), "MAIL FROM:<evil@example.org>\r\n");
  EXPECT_TRUE(session.transcript().output.ends_with("220 2.0.0 Ready to start TLS\r\n"));
}

TEST(SmtpServer, StartTlsForgetsAuthentication) {
  SmtpServerSettings settings = plain_settings();
  settings.auth_requires_tls = false;
  Session session(settings);
  session.send("EHLO client.test\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\nSTARTTLS\r\n",
               SplitPlan::whole());
  EXPECT_TRUE(session.server().authenticated());
  session.handshake();
  EXPECT_FALSE(session.server().authenticated());
  EXPECT_EQ(session.server().authenticated_user(), "");
  EXPECT_EQ(session.server().client_name(), "");
}

TEST(SmtpServer, StartTlsNotOfferedIsTemporarilyRefused) {
  SmtpServerSettings settings = plain_settings();
  settings.starttls_offered = false;
  EXPECT_TRUE(run("EHLO client.test\r\nSTARTTLS\r\nSTARTTLS now\r\n", settings)
                  .output.ends_with("454 4.7.0 TLS not available\r\n501 5.5.4 Syntax: STARTTLS\r\n"));
}

// The 220 promises a handshake: without a TLS session to do it with, the client
// hears 454 in plaintext and the session goes on (RFC 3207 §4).
TEST(SmtpServer, StartTlsWithoutAFreeTlsSessionIsTemporarilyRefused) {
  const Transcript t = run("EHLO client.test\r\nSTARTTLS\r\nNOOP\r\n", plain_settings(),
                           [](FakePolicy& policy) { policy.tls_session_free = false; });
  EXPECT_TRUE(t.output.ends_with("454 4.7.0 TLS not available now, try again later\r\n250 2.0.0 OK\r\n"))
      << t.output;
}

TEST(SmtpServer, AuthPlainWithInitialResponse) {
  Session session(tls_settings());
  session.send("EHLO client.test\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\n", SplitPlan::whole());
  EXPECT_TRUE(session.server().authenticated());
  EXPECT_EQ(session.server().authenticated_user(), "alice");
  const Transcript t = run("EHLO client.test\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\n");
  EXPECT_TRUE(t.output.ends_with(std::string(ehlo_tls_reply) + "235 2.7.0 Authentication successful\r\n"));
  EXPECT_EQ(t.calls, (Calls{"authenticate [] alice secret"}));
}

TEST(SmtpServer, AuthPlainWithoutInitialResponse) {
  const Transcript t = run("EHLO client.test\r\nAUTH PLAIN\r\n" + std::string(plain_alice) + "\r\n");
  EXPECT_TRUE(t.output.ends_with("334 \r\n235 2.7.0 Authentication successful\r\n"));
  EXPECT_EQ(t.calls, (Calls{"authenticate [] alice secret"}));
}

TEST(SmtpServer, AuthLoginWithAndWithoutInitialResponse) {
  const std::string challenge_then_success = "334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n";
  const Transcript prompted = run("EHLO client.test\r\nAUTH LOGIN\r\n" + std::string(login_alice) + "\r\n" +
                                  std::string(login_secret) + "\r\n");
  EXPECT_TRUE(prompted.output.ends_with("334 VXNlcm5hbWU6\r\n" + challenge_then_success));
  EXPECT_EQ(prompted.calls, (Calls{"authenticate [] alice secret"}));

  const Transcript initial =
      run("EHLO client.test\r\nAUTH LOGIN " + std::string(login_alice) + "\r\n" + std::string(login_secret) + "\r\n");
  EXPECT_TRUE(initial.output.ends_with(std::string(ehlo_tls_reply) + challenge_then_success));
  EXPECT_EQ(initial.calls, prompted.calls);
}

TEST(SmtpServer, AuthCancelledWithAStar) {
  const Transcript t = run("EHLO client.test\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN\r\n*\r\nAUTH LOGIN\r\n" +
                           std::string(login_alice) + "\r\n*\r\nNOOP\r\n");
  EXPECT_TRUE(t.output.ends_with("334 \r\n501 5.0.0 Authentication cancelled\r\n"
                                 "334 VXNlcm5hbWU6\r\n501 5.0.0 Authentication cancelled\r\n"
                                 "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n501 5.0.0 Authentication cancelled\r\n"
                                 "250 2.0.0 OK\r\n"));
  EXPECT_TRUE(t.calls.empty());
}

TEST(SmtpServer, AuthRefusals) {
  const Transcript t = run("AUTH PLAIN " + std::string(plain_alice) +
                           "\r\nEHLO client.test\r\nAUTH CRAM-MD5\r\nAUTH PLAIN not*base64\r\nAUTH PLAIN =\r\n"
                           "AUTH\r\nAUTH  \r\n");
  EXPECT_EQ(t.output, with_greeting("503 5.5.1 Send EHLO first\r\n" + std::string(ehlo_tls_reply) +
                                    "504 5.5.4 Unrecognized authentication mechanism\r\n"
                                    "501 5.5.2 Invalid AUTH data\r\n501 5.5.2 Invalid AUTH data\r\n"
                                    "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
                                    "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"));
  EXPECT_TRUE(t.calls.empty());
}

// RFC 5321 §4.5.1: "RCPT TO:<Postmaster>" without a domain, in any case, is
// handed to the policy as written; MAIL FROM takes no such form.
TEST(SmtpServer, BarePostmasterIsARecipient) {
  const Transcript t = run(
      "EHLO client.test\r\nMAIL FROM:<postmaster>\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<Postmaster>\r\n"
      "RCPT TO:<POSTMASTER> \r\nRCPT TO:<postmistress>\r\n");
  EXPECT_TRUE(t.output.ends_with("501 5.1.7 Bad sender address syntax\r\n250 2.1.0 Sender OK\r\n"
                                 "250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n"
                                 "501 5.1.3 Bad recipient address syntax\r\n"))
      << t.output;
  EXPECT_EQ(t.calls, (Calls{"mail_from <a@example.org> size=0", "rcpt_to <Postmaster>", "rcpt_to <POSTMASTER>"}));
}

TEST(SmtpServer, AuthFailureComesFromThePolicyAfterADelay) {
  const Transcript t = run("EHLO client.test\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\nAUTH PLAIN " +
                               std::string(plain_alice) + "\r\n",
                           tls_settings(), [](FakePolicy& policy) {
                             policy.answer("authenticate [] alice secret", SmtpDecision::later(),
                                           SmtpDecision::rejected({535, "5.7.8", "Authentication credentials invalid"}));
                           });
  EXPECT_TRUE(t.output.ends_with(std::string(ehlo_tls_reply) + "535 5.7.8 Authentication credentials invalid\r\n"
                                                                "535 5.7.8 Authentication credentials invalid\r\n"));
  EXPECT_EQ(t.calls, (Calls{"authenticate [] alice secret", "authenticate [] alice secret"}));
}

TEST(SmtpServer, AuthTwiceOrDuringATransactionIsOutOfOrder) {
  const Transcript t = run("EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nAUTH PLAIN " +
                           std::string(plain_alice) + "\r\nRSET\r\nAUTH PLAIN " + std::string(plain_alice) +
                           "\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\n");
  EXPECT_TRUE(t.output.ends_with("250 2.1.0 Sender OK\r\n503 5.5.1 AUTH not allowed during a mail transaction\r\n"
                                 "250 2.0.0 OK\r\n235 2.7.0 Authentication successful\r\n"
                                 "503 5.5.1 Already authenticated\r\n"));
}

TEST(SmtpServer, AuthAndMailBeforeTlsRefusedWhereTlsIsRequired) {
  SmtpServerSettings submission = plain_settings();
  submission.auth_required = true;
  const Transcript t = run("EHLO client.test\r\nAUTH PLAIN " + std::string(plain_alice) +
                               "\r\nMAIL FROM:<a@example.org>\r\n",
                           submission);
  EXPECT_TRUE(t.output.ends_with("530 5.7.0 Must issue a STARTTLS command first\r\n"
                                 "530 5.7.0 Must issue a STARTTLS command first\r\n"));
  EXPECT_TRUE(t.calls.empty());
}

TEST(SmtpServer, SubmissionTakesMailOnlyAfterAuth) {
  SmtpServerSettings submission = tls_settings();
  submission.auth_required = true;
  const Transcript t = run("EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nAUTH PLAIN " +
                               std::string(plain_alice) + "\r\nMAIL FROM:<a@example.org>\r\n",
                           submission);
  EXPECT_TRUE(t.output.ends_with("530 5.7.0 Authentication required\r\n235 2.7.0 Authentication successful\r\n"
                                 "250 2.1.0 Sender OK\r\n"));
}

TEST(SmtpServer, MailParameters) {
  const Transcript t = run(
      "EHLO client.test\r\nMAIL FROM:<a@example.org> SIZE=10001\r\nMAIL FROM:<a@example.org> SIZE=ten\r\n"
      "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\nMAIL FROM:<a@example.org\r\nMAIL TO:<a@example.org>\r\n"
      "MAIL FROM:<a@example.org> BODY=7BIT AUTH=<> SIZE=10000\r\n");
  EXPECT_TRUE(t.output.ends_with("552 5.3.4 Message size exceeds fixed maximum message size\r\n"
                                 "501 5.5.4 Bad SIZE parameter\r\n555 5.5.4 Unsupported MAIL parameter\r\n"
                                 "501 5.1.7 Bad sender address syntax\r\n501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
                                 "250 2.1.0 Sender OK\r\n"));
  EXPECT_EQ(t.calls, (Calls{"mail_from <a@example.org> size=10000"}));
}

TEST(SmtpServer, RecipientSyntaxAndLimit) {
  const Transcript t = run(
      "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<>\r\nRCPT TO:<b@example.net> NOTIFY=NEVER\r\n"
      "RCPT TO:<1@example.net>\r\nRCPT TO:<2@example.net>\r\nRCPT TO:<3@example.net>\r\nRCPT TO:<4@example.net>\r\n");
  EXPECT_TRUE(t.output.ends_with("501 5.1.3 Bad recipient address syntax\r\n555 5.5.4 Unsupported RCPT parameter\r\n"
                                 "250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n"
                                 "452 4.5.3 Too many recipients\r\n"));
  EXPECT_EQ(t.calls.size(), 4u);
}

TEST(SmtpServer, OverlongCommandLinesAreRefusedAndTheSessionContinues) {
  const std::string longest = "NOOP " + std::string(505, 'x') + "\r\n";  // 512 octets with CRLF
  ASSERT_EQ(longest.size(), 512u);
  const std::string one_over = "NOOP " + std::string(506, 'x') + "\r\n";
  const std::string huge = std::string(5000, 'y') + "\r\n";
  const Transcript t = run("EHLO client.test\r\n" + longest + one_over + huge + "NOOP\r\n");
  EXPECT_TRUE(t.output.ends_with(std::string(ehlo_tls_reply) + "250 2.0.0 OK\r\n500 5.5.2 Line too long\r\n"
                                                                "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n"));
}

TEST(SmtpServer, OverlongAuthResponseEndsTheExchange) {
  const Transcript t = run("EHLO client.test\r\nAUTH PLAIN\r\n" + std::string(2000, 'A') + "\r\nNOOP\r\n");
  EXPECT_TRUE(t.output.ends_with("334 \r\n500 5.5.6 Authentication Exchange line is too long\r\n250 2.0.0 OK\r\n"));
  EXPECT_TRUE(t.calls.empty());
}

// A session that reaches DATA and sends `body` (which must end the message).
Transcript run_message(std::string_view body, const SmtpServerSettings& settings = tls_settings(),
                       Configure configure = [](FakePolicy&) {}) {
  return run("EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n" +
                 std::string(body) + "NOOP\r\n",
             settings, configure);
}

const Calls refused_message_calls{"mail_from <a@example.org> size=0", "rcpt_to <b@example.net>", "data_begin",
                                  "data_abort", "transaction_reset"};

TEST(SmtpServer, RefusesBareLineEndsAndNulInData) {
  for (const std::string& body : std::vector<std::string>{"a\nb\r\n.\r\n", "a\rb\r\n.\r\n", std::string("a\0b\r\n.\r\n", 8),
                                 "a\r\n.\rb\r\n.\r\n", "a\r\n.\n\r\n.\r\n"}) {
    SCOPED_TRACE(::testing::PrintToString(body));
    const Transcript t = run_message(body);
    EXPECT_TRUE(t.output.ends_with("550 5.6.0 Message refused: bare CR, bare LF or NUL in content\r\n"
                                   "250 2.0.0 OK\r\n"));
    EXPECT_EQ(t.calls, refused_message_calls);
  }
}

TEST(SmtpServer, DataEndsOnlyAtCrLfDotCrLfSoNothingIsSmuggled) {
  const Transcript t = run_message(
      "Subject: x\r\n\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nhi\r\n.\r\n");
  EXPECT_EQ(t.calls, refused_message_calls);
  EXPECT_TRUE(t.output.ends_with("354 End data with <CR><LF>.<CR><LF>\r\n"
                                 "550 5.6.0 Message refused: bare CR, bare LF or NUL in content\r\n"
                                 "250 2.0.0 OK\r\n"));
}

TEST(SmtpServer, TextLineOf998OctetsIsTheLongestAccepted) {
  const std::string longest(998, 'a');
  const Transcript accepted = run_message(longest + "\r\n.\r\n");
  EXPECT_EQ(accepted.calls[3], "data " + longest + "\r\n");
  EXPECT_EQ(accepted.calls[4], "data_end");

  for (const std::size_t length : {999u, 1001u}) {
    const Transcript refused = run_message(std::string(length, 'a') + "\r\n.\r\n");
    EXPECT_EQ(refused.calls, refused_message_calls);
    EXPECT_TRUE(refused.output.ends_with("500 5.5.2 Message refused: line longer than 998 octets\r\n"
                                         "250 2.0.0 OK\r\n"));
  }
}

TEST(SmtpServer, MessageOverTheSizeLimitIsNotStored) {
  SmtpServerSettings settings = tls_settings();
  settings.max_message_bytes = 100;
  const std::string line = std::string(48, 'b') + "\r\n";  // 50 octets
  EXPECT_EQ(run_message(line + line + ".\r\n", settings).calls[4], "data_end");

  const Transcript t = run_message(line + line + "c\r\n.\r\n", settings);
  EXPECT_EQ(t.calls, refused_message_calls);
  EXPECT_TRUE(t.output.ends_with("552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 OK\r\n"));
}

// Found by the fuzzer: when storage failed on an early piece, the size was no
// longer counted, and the reply depended on how the input was cut.
TEST(SmtpServer, TooBigWinsOverAStorageFailureInEverySplit) {
  SmtpServerSettings settings = tls_settings();
  settings.max_message_bytes = 100;
  const Transcript t = run_message(std::string(200, 'z') + "\r\n.\r\n", settings,
                                   [](FakePolicy& policy) { policy.storage_fails = true; });
  EXPECT_TRUE(t.output.ends_with("552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 OK\r\n"));
}

TEST(SmtpServer, StorageFailureIsTemporary) {
  const Transcript t = run_message("hello\r\n.\r\n", tls_settings(),
                                   [](FakePolicy& policy) { policy.storage_fails = true; });
  EXPECT_EQ(t.calls, refused_message_calls);
  EXPECT_TRUE(t.output.ends_with("452 4.3.1 Insufficient system storage\r\n250 2.0.0 OK\r\n"));
}

TEST(SmtpServer, RejectedCommitForgetsTheTransaction) {
  const Transcript t = run_message("hello\r\n.\r\n", tls_settings(), [](FakePolicy& policy) {
    policy.answer("data_end", SmtpDecision::later(), SmtpDecision::rejected({451, "4.3.0", "Local storage error"}));
  });
  EXPECT_TRUE(t.output.ends_with("451 4.3.0 Local storage error\r\n250 2.0.0 OK\r\n"));
  EXPECT_EQ(t.calls.back(), "transaction_reset");
}

TEST(SmtpServer, AbortDuringDataDropsTheMessage) {
  Session session(tls_settings());
  session.send("EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\npart",
               SplitPlan::whole());
  session.server().abort_session({421, "4.4.2", "Idle timeout, closing connection"});
  const Transcript t = session.transcript();
  EXPECT_TRUE(session.server().finished());
  EXPECT_TRUE(t.output.ends_with("421 4.4.2 Idle timeout, closing connection\r\n"));
  EXPECT_EQ(t.calls, refused_message_calls);
}

}  // namespace
}  // namespace pigeon::protocol
