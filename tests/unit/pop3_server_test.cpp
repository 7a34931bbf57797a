#include "protocol/pop3_server.hpp"

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

using Calls = std::vector<std::string>;

// base64 of "\0alice\0secret".
constexpr std::string_view plain_alice = "AGFsaWNlAHNlY3JldA==";

const std::vector<std::string> three_messages{
    "Subject: one\r\n\r\nHello\r\n.hidden dot\r\n",
    "Subject: two\r\nFrom: x@example.org\r\n\r\nline1\r\nline2\r\nline3\r\n",
    "Subject: three\r\n\r\n.\r\n",
};

// A maildrop in memory that records the calls that change something and
// answers as the test says; a later() answer is resumed with `resumed`.
class FakeMaildrop final : public Pop3ServerPolicy {
 public:
  explicit FakeMaildrop(std::vector<std::string> messages) : messages_(std::move(messages)) {
    for (std::size_t i = 0; i < messages_.size(); ++i) uids_.push_back("uid-" + std::to_string(i * 7 + 100));
  }

  void answer(const std::string& call, Pop3Decision now, Pop3Decision resumed = {}) {
    answers_[call] = {now, resumed};
  }
  std::vector<std::string> calls;
  Pop3Decision take_resumed() { return resumed_; }

  Pop3Decision login(std::string_view authzid, std::string_view user, std::string_view password) override {
    return decide("login [" + std::string(authzid) + "] " + std::string(user) + " " + std::string(password));
  }
  std::size_t message_count() override { return messages_.size(); }
  std::uint32_t message_size_bytes(std::size_t index) override {
    return static_cast<std::uint32_t>(messages_.at(index).size());
  }
  std::string_view unique_id(std::size_t index) override { return uids_.at(index); }
  std::optional<std::size_t> read_message(std::size_t index, std::uint32_t offset,
                                          std::span<std::uint8_t> out) override {
    ++reads;
    const std::string& message = messages_.at(index);
    const std::size_t readable = std::min(message.size(), unreadable_at_.value_or(message.size()));
    if (offset >= readable && readable < message.size()) return std::nullopt;
    const std::size_t length = std::min(out.size(), readable - offset);
    std::copy_n(message.begin() + offset, length, out.begin());
    return length;
  }
  // Reads fail from this offset on (a flash error in the middle of a message).
  void fail_reads_from(std::size_t offset) { unreadable_at_ = offset; }
  Pop3Decision commit_deletions(const DeletionMarks& deleted) override {
    std::string call = "commit_deletions";
    for (std::size_t i = 0; i < deleted.size(); ++i) {
      if (deleted[i]) call += " " + std::to_string(i);
    }
    return decide(call);
  }
  void release() override { calls.emplace_back("release"); }
  bool reserve_tls() override { return tls_session_free; }
  bool tls_session_free = true;
  std::size_t reads = 0;  // read_message() calls

 private:
  struct Answer {
    Pop3Decision now;
    Pop3Decision resumed;
  };

  Pop3Decision decide(std::string call) {
    calls.push_back(call);
    const auto found = answers_.find(call);
    if (found == answers_.end()) return Pop3Decision::accepted();
    resumed_ = found->second.resumed;
    return found->second.now;
  }

  std::vector<std::string> messages_;
  std::optional<std::size_t> unreadable_at_;
  std::vector<std::string> uids_;
  std::map<std::string, Answer> answers_;
  Pop3Decision resumed_;
};

Pop3ServerSettings tls_settings() {
  Pop3ServerSettings settings;
  settings.host_name = "pop.test";
  settings.tls_active = true;
  return settings;
}

Pop3ServerSettings plain_settings() {
  Pop3ServerSettings settings = tls_settings();
  settings.tls_active = false;
  settings.stls_offered = true;
  return settings;
}

// The settings with `words` for DELE's marks.
Pop3ServerSettings marked_in(Pop3ServerSettings settings, std::span<DeletionMarks::Word> words) {
  settings.deletion_marks = words;
  return settings;
}

// One POP3 session: the engine, its maildrop, and a client that sends input
// cut by a plan and reads replies `read_step_bytes` at a time (0: all at once),
// so that long responses stream through a full output buffer. Its deletion
// marks hold settings.max_messages.
class Session : public testing::StreamingClient<Session> {
 public:
  Session(const Pop3ServerSettings& settings, std::vector<std::string> messages, std::size_t read_step_bytes = 0)
      : Session(settings, std::move(messages), read_step_bytes, DeletionMarks::words_for(settings.max_messages)) {}
  Session(const Pop3ServerSettings& settings, std::vector<std::string> messages, std::size_t read_step_bytes,
          std::size_t mark_words)
      : StreamingClient(read_step_bytes),
        maildrop(std::move(messages)),
        marks_(mark_words),
        server_(maildrop, out_, marked_in(settings, marks_)) {
    server_.start();
  }

  FakeMaildrop maildrop;
  Pop3Server& server() { return server_; }
  std::vector<std::string>& calls() { return maildrop.calls; }

 private:
  friend class testing::EngineClient<Session>;
  friend class testing::StreamingClient<Session>;
  Pop3Decision resumed_decision() { return maildrop.take_resumed(); }

  std::vector<DeletionMarks::Word> marks_;
  Pop3Server server_;
};

using Configure = void (*)(FakeMaildrop&);

Transcript run(std::string_view input, const Pop3ServerSettings& settings = tls_settings(),
               Configure configure = [](FakeMaildrop&) {}, const std::vector<std::string>& messages = three_messages) {
  return same_result_for_every_split([&](const SplitPlan& plan) {
    Session session(settings, messages);
    configure(session.maildrop);
    session.send(input, plan);
    return session.transcript();
  });
}

constexpr std::string_view greeting = "+OK pop.test POP3 pigeon ready\r\n";
constexpr std::string_view login = "USER alice\r\nPASS secret\r\n";
constexpr std::string_view logged_in = "+OK Send PASS\r\n+OK Logged in, 3 messages\r\n";

std::string with_greeting(std::string_view replies) { return std::string(greeting).append(replies); }
std::string logged_in_then(std::string_view replies) {
  return with_greeting(std::string(logged_in).append(replies));
}
std::string after_login(std::string_view commands) { return std::string(login).append(commands); }

// What RETR must send for `message`: dot-stuffed, then the terminator.
std::string stuffed(std::string_view message) {
  std::string result;
  bool line_start = true;
  for (const char c : message) {
    if (line_start && c == '.') result += '.';
    result += c;
    line_start = c == '\n';
  }
  return result + ".\r\n";
}

TEST(Pop3Server, CapaUnderTlsOffersLoginMethods) {
  EXPECT_EQ(run("CAPA\r\n").output,
            with_greeting("+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
                          "PIPELINING\r\nUSER\r\nSASL PLAIN\r\nIMPLEMENTATION pigeon\r\n.\r\n"));
}

TEST(Pop3Server, CapaBeforeTlsOffersStlsInsteadOfLogin) {
  EXPECT_EQ(run("CAPA\r\n", plain_settings()).output,
            with_greeting("+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
                          "PIPELINING\r\nSTLS\r\nIMPLEMENTATION pigeon\r\n.\r\n"));
}

TEST(Pop3Server, CapaAfterLoginListsNoLoginMethods) {
  EXPECT_EQ(run(after_login("CAPA\r\n")).output,
            logged_in_then("+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
                           "PIPELINING\r\nIMPLEMENTATION pigeon\r\n.\r\n"));
}

TEST(Pop3Server, UserPassLogin) {
  const Transcript t = run("USER alice\r\nPASS pass phrase with spaces\r\n");
  EXPECT_EQ(t.output, with_greeting(logged_in));
  EXPECT_EQ(t.calls, (Calls{"login [] alice pass phrase with spaces"}));
}

TEST(Pop3Server, LoginRefusalsCarryResponseCodes) {
  const Transcript t = run("PASS x\r\nUSER alice\r\nPASS wrong\r\nPASS secret\r\nUSER alice\r\nPASS secret\r\n",
                           tls_settings(), [](FakeMaildrop& maildrop) {
                             maildrop.answer("login [] alice wrong", Pop3Decision::later(),
                                             Pop3Decision::rejected("AUTH", "Authentication failed"));
                             maildrop.answer("login [] alice secret",
                                             Pop3Decision::rejected("IN-USE", "Maildrop locked by another session"));
                           });
  EXPECT_EQ(t.output, with_greeting("-ERR USER first\r\n+OK Send PASS\r\n-ERR [AUTH] Authentication failed\r\n"
                                    "-ERR USER first\r\n+OK Send PASS\r\n"
                                    "-ERR [IN-USE] Maildrop locked by another session\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice wrong", "login [] alice secret"}));
}

TEST(Pop3Server, AuthPlainWithAndWithoutInitialResponse) {
  const Transcript initial = run("AUTH PLAIN " + std::string(plain_alice) + "\r\n");
  EXPECT_EQ(initial.output, with_greeting("+OK Logged in, 3 messages\r\n"));
  EXPECT_EQ(initial.calls, (Calls{"login [] alice secret"}));

  const Transcript prompted = run("AUTH PLAIN\r\n" + std::string(plain_alice) + "\r\n");
  EXPECT_EQ(prompted.output, with_greeting("+ \r\n+OK Logged in, 3 messages\r\n"));
  EXPECT_EQ(prompted.calls, initial.calls);
}

TEST(Pop3Server, AuthRefusals) {
  const Transcript t = run("AUTH PLAIN\r\n*\r\nAUTH CRAM-MD5\r\nAUTH\r\nAUTH PLAIN not*base64\r\nAUTH PLAIN =\r\n");
  EXPECT_EQ(t.output, with_greeting("+ \r\n-ERR Authentication cancelled\r\n-ERR Unsupported SASL mechanism\r\n"
                                    "-ERR Syntax: AUTH mechanism\r\n-ERR Invalid AUTH data\r\n"
                                    "-ERR Invalid AUTH data\r\n"));
  EXPECT_TRUE(t.calls.empty());
}

TEST(Pop3Server, LoginBeforeTlsIsRefusedWhereTlsIsRequired) {
  const Transcript t = run("USER alice\r\nPASS secret\r\nAUTH PLAIN " + std::string(plain_alice) + "\r\n",
                           plain_settings());
  EXPECT_EQ(t.output, with_greeting("-ERR [AUTH] Login only after STLS\r\n-ERR [AUTH] Login only after STLS\r\n"
                                    "-ERR [AUTH] Login only after STLS\r\n"));
  EXPECT_TRUE(t.calls.empty());
}

TEST(Pop3Server, StlsThenLogin) {
  const Transcript t = same_result_for_every_split([](const SplitPlan& plan) {
    Session session(plain_settings(), three_messages);
    session.send("USER alice\r\nSTLS\r\n", plan);
    EXPECT_EQ(session.handshake(), "");
    session.send("PASS secret\r\nSTLS\r\nUSER alice\r\nPASS secret\r\n", plan);
    return session.transcript();
  });
  EXPECT_EQ(t.output, with_greeting("-ERR [AUTH] Login only after STLS\r\n+OK Begin TLS negotiation\r\n"
                                    "-ERR USER first\r\n-ERR Already using TLS\r\n" +
                                    std::string(logged_in)));
  EXPECT_EQ(t.calls, (Calls{"<tls handshake>", "login [] alice secret"}));
}

TEST(Pop3Server, StlsStopsReadingSoPipelinedBytesAreDropped) {
  Session session(plain_settings(), three_messages);
  session.send("STLS\r\nUSER mallory\r\n", SplitPlan::whole());
  EXPECT_EQ(session.handshake(), "USER mallory\r\n");
}

TEST(Pop3Server, StlsNotOfferedOrAfterLogin) {
  Pop3ServerSettings settings = plain_settings();
  settings.stls_offered = false;
  settings.login_requires_tls = false;
  EXPECT_EQ(run("STLS\r\n" + after_login("STLS\r\n"), settings).output,
            with_greeting("-ERR STLS not available\r\n" + std::string(logged_in) + "-ERR Already logged in\r\n"));
}

TEST(Pop3Server, StlsWithoutAFreeTlsSessionIsTemporarilyRefused) {
  const Transcript t = run("STLS\r\nNOOP\r\n", plain_settings(),
                           [](FakeMaildrop& maildrop) { maildrop.tls_session_free = false; });
  EXPECT_EQ(t.output, with_greeting("-ERR [SYS/TEMP] TLS not available now, try again later\r\n"
                                    "-ERR Command not valid before login\r\n"));
}

TEST(Pop3Server, CommandsInTheWrongState) {
  EXPECT_EQ(run("STAT\r\nFROB\r\n" + after_login("USER bob\r\nFROB\r\n")).output,
            with_greeting("-ERR Command not valid before login\r\n-ERR Command not valid before login\r\n" +
                          std::string(logged_in) + "-ERR Already logged in\r\n-ERR Unknown command\r\n"));
}

TEST(Pop3Server, StatListAndUidl) {
  const Transcript t = run(after_login("STAT\r\nLIST\r\nLIST 2\r\nLIST 4\r\nLIST 0\r\nLIST x\r\nUIDL\r\nUIDL 3\r\n"));
  const std::string sizes[] = {std::to_string(three_messages[0].size()), std::to_string(three_messages[1].size()),
                               std::to_string(three_messages[2].size())};
  const std::size_t total = three_messages[0].size() + three_messages[1].size() + three_messages[2].size();
  EXPECT_EQ(t.output, logged_in_then("+OK 3 " + std::to_string(total) + "\r\n+OK Scan listing follows\r\n1 " +
                                     sizes[0] + "\r\n2 " + sizes[1] + "\r\n3 " + sizes[2] + "\r\n.\r\n+OK 2 " +
                                     sizes[1] +
                                     "\r\n-ERR No such message\r\n-ERR No such message\r\n-ERR No such message\r\n"
                                     "+OK Unique-id listing follows\r\n1 uid-100\r\n2 uid-107\r\n3 uid-114\r\n.\r\n"
                                     "+OK 3 uid-114\r\n"));
}

TEST(Pop3Server, DeletedMessagesDisappearUntilRset) {
  const Transcript t =
      run(after_login("DELE 2\r\nDELE 2\r\nSTAT\r\nLIST\r\nUIDL 2\r\nRETR 2\r\nTOP 2 0\r\nRSET\r\nLIST 2\r\nNOOP\r\n"));
  const std::size_t remaining = three_messages[0].size() + three_messages[2].size();
  EXPECT_EQ(t.output,
            logged_in_then("+OK Message deleted\r\n-ERR Message already deleted\r\n+OK 2 " + std::to_string(remaining) +
                           "\r\n+OK Scan listing follows\r\n1 " + std::to_string(three_messages[0].size()) + "\r\n3 " +
                           std::to_string(three_messages[2].size()) +
                           "\r\n.\r\n-ERR Message already deleted\r\n-ERR Message already deleted\r\n"
                           "-ERR Message already deleted\r\n+OK Deletion marks removed\r\n+OK 2 " +
                           std::to_string(three_messages[1].size()) + "\r\n+OK\r\n"));
}

TEST(Pop3Server, RetrDotStuffsAndTerminates) {
  const Transcript t = run(after_login("RETR 1\r\nRETR 3\r\n"));
  EXPECT_EQ(t.output, logged_in_then("+OK " + std::to_string(three_messages[0].size()) +
                                     " octets\r\nSubject: one\r\n\r\nHello\r\n..hidden dot\r\n.\r\n+OK " +
                                     std::to_string(three_messages[2].size()) +
                                     " octets\r\nSubject: three\r\n\r\n..\r\n.\r\n"));
}

TEST(Pop3Server, TopSendsHeadersAndTheAskedForLines) {
  const Transcript t = run(after_login("TOP 2 0\r\nTOP 2 2\r\nTOP 2 99\r\nTOP 2\r\n"));
  const std::string octets = "+OK " + std::to_string(three_messages[1].size()) + " octets\r\n";
  const std::string headers = "Subject: two\r\nFrom: x@example.org\r\n\r\n";
  EXPECT_EQ(t.output, logged_in_then(octets + headers + ".\r\n" + octets + headers + "line1\r\nline2\r\n.\r\n" +
                                     octets + headers + "line1\r\nline2\r\nline3\r\n.\r\n" +
                                     "-ERR Syntax: TOP message lines\r\n"));
}

// A message that cannot be read to its end never gets the terminating dot:
// the client would take the part it got for the whole message.
TEST(Pop3Server, UnreadableMessageEndsWithAnErrorAndNoDot) {
  for (const std::string_view command : {"RETR 1\r\nNOOP\r\n", "TOP 1 5\r\nNOOP\r\n"}) {
    const Transcript t = run(after_login(std::string(command)), tls_settings(),
                             [](FakeMaildrop& maildrop) { maildrop.fail_reads_from(10); });
    EXPECT_EQ(t.output, logged_in_then("+OK " + std::to_string(three_messages[0].size()) +
                                       " octets\r\nSubject: o\r\n-ERR [SYS/TEMP] Message unreadable, try again later\r\n"))
        << command;
    EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "release"})) << command;
  }
}

TEST(Pop3Server, QuitInAuthorizationCommitsNothing) {
  Session session(tls_settings(), three_messages);
  session.send("USER alice\r\nQUIT\r\nNOOP\r\n", SplitPlan::whole());
  EXPECT_TRUE(session.server().finished());
  const Transcript t = session.transcript();
  EXPECT_EQ(t.output, with_greeting("+OK Send PASS\r\n+OK Bye\r\n"));
  EXPECT_TRUE(t.calls.empty());
}

TEST(Pop3Server, QuitInTransactionCommitsTheDeletionMarks) {
  const Transcript t = run(after_login("DELE 1\r\nDELE 3\r\nQUIT\r\n"), tls_settings(), [](FakeMaildrop& maildrop) {
    maildrop.answer("commit_deletions 0 2", Pop3Decision::later());
  });
  EXPECT_EQ(t.output, logged_in_then("+OK Message deleted\r\n+OK Message deleted\r\n+OK Bye\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "commit_deletions 0 2"}));
}

TEST(Pop3Server, FailedCommitIsReportedAsTemporary) {
  const Transcript t = run(after_login("DELE 2\r\nQUIT\r\n"), tls_settings(), [](FakeMaildrop& maildrop) {
    maildrop.answer("commit_deletions 1", Pop3Decision::later(),
                    Pop3Decision::rejected("SYS/TEMP", "Some deleted messages not removed"));
  });
  EXPECT_EQ(t.output, logged_in_then("+OK Message deleted\r\n-ERR [SYS/TEMP] Some deleted messages not removed\r\n"));
}

TEST(Pop3Server, OverlongLineIsRefusedAndTheSessionContinues) {
  const Transcript t = run("NOOP" + std::string(300, 'x') + "\r\n" + std::string(3000, 'y') + "\r\nCAPA\r\n");
  EXPECT_TRUE(t.output.starts_with(with_greeting("-ERR Line too long\r\n-ERR Line too long\r\n+OK Capability")));
}

TEST(Pop3Server, AbortInTransactionReleasesTheMaildrop) {
  Session session(tls_settings(), three_messages);
  session.send(login, SplitPlan::whole());
  session.server().abort_session("Idle timeout");
  const Transcript t = session.transcript();
  EXPECT_TRUE(session.server().finished());
  EXPECT_TRUE(t.output.ends_with("-ERR Idle timeout\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "release"}));
}

TEST(Pop3Server, MessagesBeyondTheLimitAreNotShown) {
  Pop3ServerSettings settings = tls_settings();
  settings.max_messages = 2;
  EXPECT_EQ(run(after_login("STAT\r\nRETR 3\r\n"), settings).output,
            with_greeting("+OK Send PASS\r\n+OK Logged in, 2 messages\r\n+OK 2 " +
                          std::to_string(three_messages[0].size() + three_messages[1].size()) +
                          "\r\n-ERR No such message\r\n"));
}

// A session shows no more messages than its deletion marks hold: 32 in one word.
const std::string short_message = "Subject: s\r\n\r\nx\r\n";

TEST(Pop3Server, MessagesBeyondTheDeletionMarksAreNotShown) {
  Session session(tls_settings(), std::vector<std::string>(40, short_message), 0, 1);
  session.send(after_login("STAT\r\nDELE 32\r\nDELE 33\r\nQUIT\r\n"), SplitPlan::whole());
  const Transcript t = session.transcript();
  EXPECT_EQ(t.output, with_greeting("+OK Send PASS\r\n+OK Logged in, 32 messages\r\n+OK 32 " +
                                    std::to_string(32 * short_message.size()) +
                                    "\r\n+OK Message deleted\r\n-ERR No such message\r\n+OK Bye\r\n"));
  EXPECT_EQ(t.calls.back(), "commit_deletions 31");
}

// A maildrop past the 4,096 messages the marks once held is shown whole when
// the session's owner gives marks for it (the host gives the spool's 32,768).
TEST(Pop3Server, AMaildropOfManyThousandsIsShownWhole) {
  Pop3ServerSettings settings = tls_settings();
  settings.max_messages = 5000;
  Session session(settings, std::vector<std::string>(5000, short_message));
  session.send(after_login("STAT\r\nDELE 5000\r\nDELE 4097\r\nQUIT\r\n"), SplitPlan::whole());
  const Transcript t = session.transcript();
  EXPECT_EQ(t.output, with_greeting("+OK Send PASS\r\n+OK Logged in, 5000 messages\r\n+OK 5000 " +
                                    std::to_string(5000 * short_message.size()) +
                                    "\r\n+OK Message deleted\r\n+OK Message deleted\r\n+OK Bye\r\n"));
  EXPECT_EQ(t.calls.back(), "commit_deletions 4096 4999");
}

// A message far bigger than the output buffer, full of lines that need
// stuffing, read back by a client that takes a few bytes at a time.
TEST(Pop3Server, StreamsABigMessageThroughAFullOutputBuffer) {
  std::string big = "Subject: big\r\n\r\n";
  for (int line = 0; line < 1500; ++line) big += (line % 3 == 0 ? "." : "") + std::to_string(line) + " text\r\n";
  big += "..\r\n";
  const std::vector<std::string> messages{big, "Subject: small\r\n\r\nx\r\n"};
  const std::string input = after_login("RETR 1\r\nLIST\r\nRETR 1\r\nQUIT\r\n");

  const std::string expected_retr = "+OK " + std::to_string(big.size()) + " octets\r\n" + stuffed(big);
  const std::string expected = with_greeting("+OK Send PASS\r\n+OK Logged in, 2 messages\r\n" + expected_retr +
                                             "+OK Scan listing follows\r\n1 " + std::to_string(big.size()) +
                                             "\r\n2 " + std::to_string(messages[1].size()) + "\r\n.\r\n" + expected_retr + "+OK Bye\r\n");
  for (const std::size_t read_step : {0u, 1u, 7u, 333u}) {
    SCOPED_TRACE(read_step);
    const Transcript t = same_result_for_every_split(
        [&](const SplitPlan& plan) {
          Session session(tls_settings(), messages, read_step);
          session.send(input, plan);
          return session.transcript();
        },
        3);
    EXPECT_EQ(t.output, expected);
  }
}

// TOP of the same kind of message: the line count holds when a piece does not
// fit the output whole (a stuffed dot) and is read again.
TEST(Pop3Server, TopCountsLinesThroughAFullOutputBuffer) {
  std::string headers = "Subject: big\r\n";
  for (int line = 0; line < 60; ++line) headers += "X-Filler-" + std::to_string(line) + ": " + std::string(20, 'h') + "\r\n";
  headers += "\r\n";
  std::string body;
  for (int line = 0; line < 400; ++line) body += (line % 2 == 0 ? "." : "") + std::to_string(line) + " text\r\n";
  const std::size_t wanted_lines = 250;
  std::string wanted = headers;
  for (std::size_t line = 0, at = 0; line < wanted_lines; ++line) {
    const std::size_t end = body.find("\r\n", at) + 2;
    wanted += body.substr(at, end - at);
    at = end;
  }
  const std::string message = headers + body;
  const std::string expected = with_greeting("+OK Send PASS\r\n+OK Logged in, 1 messages\r\n+OK " +
                                             std::to_string(message.size()) + " octets\r\n" + stuffed(wanted) +
                                             "+OK\r\n");
  for (const std::size_t read_step : {0u, 1u, 7u, 333u}) {
    SCOPED_TRACE(read_step);
    Session session(tls_settings(), {message}, read_step);
    session.send(after_login("TOP 1 " + std::to_string(wanted_lines) + "\r\nNOOP\r\n"), SplitPlan::whole());
    EXPECT_EQ(session.transcript().output, expected);
  }
}

// Reads fill the free output space: a 6 KB message takes about as many reads
// as 512-byte pieces it has, not a dozen ever smaller ones per output buffer.
TEST(Pop3Server, RetrReadsTheMessageInFullPieces) {
  std::string message = "Subject: plain\r\n\r\n";
  while (message.size() < 6000) message += std::string(76, 'x') + "\r\n";
  Session session(tls_settings(), {message});
  session.send(after_login("RETR 1\r\n"), SplitPlan::whole());
  EXPECT_TRUE(session.transcript().output.ends_with("\r\n.\r\n"));
  const std::size_t pieces = (message.size() + 511) / 512;
  EXPECT_LE(session.maildrop.reads, pieces + 8);
}

}  // namespace
}  // namespace pigeon::protocol
