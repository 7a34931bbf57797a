#include "protocol/imap_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/feed_splits.hpp"

namespace pigeon::protocol {
namespace {

using testing::ReceiveBuffer;
using testing::SplitPlan;
using testing::Transcript;
using testing::same_result_for_every_split;

using Calls = std::vector<std::string>;

// base64 of "\0alice\0secret".
constexpr std::string_view plain_alice = "AGFsaWNlAHNlY3JldA==";

const std::string first_message =
    "From: Ann <ann@example.org>\r\nSubject: one\r\nTo: bob@example.org,\r\n carol@example.org\r\n\r\nHello\r\n";
const std::string second_message = "Subject: two\r\nX-Long: 1\r\n\r\nline1\r\nline2\r\n";
const std::string third_message = "Subject: three\r\n\r\n.\r\n";

struct FakeMessage {
  std::string bytes;
  std::uint32_t uid = 0;
  ImapFlags flags = 0;
  std::uint32_t arrived_s = 0;
};

// A store in memory with INBOX and the four special-use folders; INBOX holds
// the messages, the others are empty. Records the calls that change something.
class FakeStore final : public ImapServerPolicy {
 public:
  FakeStore() {
    inbox = {{first_message, 10, imap_seen, 1765000000},
             {second_message, 11, 0, 1765100000},
             {third_message, 15, imap_flagged, 1765200000}};
  }

  std::vector<FakeMessage> inbox;
  std::vector<std::string> calls;
  std::vector<std::uint32_t> vanishing;  // indexes refresh() finds gone
  std::vector<FakeMessage> arriving;     // what refresh() finds delivered
  bool tls_session_free = true;
  ImapDecision login_answer = ImapDecision::accepted();
  ImapDecision resumed;
  std::optional<std::size_t> unreadable_at;

  ImapDecision login(std::string_view authzid, std::string_view user, std::string_view password) override {
    calls.push_back("login [" + std::string(authzid) + "] " + std::string(user) + " " + std::string(password));
    return login_answer;
  }
  bool reserve_tls() override { return tls_session_free; }
  std::size_t mailbox_count() override { return folders.size(); }
  ImapMailbox mailbox(std::size_t index) override { return folders.at(index); }
  ImapMailboxStatus status(std::size_t mailbox) override {
    ImapMailboxStatus status;
    status.uid_validity = 7;
    status.uid_next = 16;
    if (mailbox != 0) return status;
    status.messages = static_cast<std::uint32_t>(inbox.size());
    for (const FakeMessage& message : inbox) {
      status.size_bytes += message.bytes.size();
      if ((message.flags & imap_seen) == 0) ++status.unseen;
      if ((message.flags & imap_deleted) != 0) ++status.deleted;
    }
    return status;
  }
  ImapFlags permanent_flags() override { return imap_deleted; }
  void select(std::size_t mailbox) override {
    calls.push_back("select " + std::string(folders.at(mailbox).name));
    selected = mailbox;
  }
  void unselect() override { calls.emplace_back("unselect"); }
  std::uint32_t message_count() override { return selected == 0 ? static_cast<std::uint32_t>(inbox.size()) : 0; }
  std::uint32_t uid(std::uint32_t index) override { return inbox.at(index).uid; }
  ImapFlags flags(std::uint32_t index) override { return inbox.at(index).flags; }
  void set_flags(std::uint32_t index, ImapFlags flags) override { inbox.at(index).flags = flags; }
  std::uint32_t size_bytes(std::uint32_t index) override {
    return static_cast<std::uint32_t>(inbox.at(index).bytes.size());
  }
  std::uint32_t arrived_s(std::uint32_t index) override { return inbox.at(index).arrived_s; }
  std::optional<std::size_t> read_message(std::uint32_t index, std::uint32_t offset,
                                          std::span<std::uint8_t> out) override {
    const std::string& message = inbox.at(index).bytes;
    EXPECT_LE(offset, message.size());
    if (unreadable_at && offset + out.size() > *unreadable_at) return std::nullopt;
    const std::size_t length = std::min(out.size(), message.size() - offset);
    std::copy_n(message.begin() + offset, length, out.begin());
    return length;
  }
  ImapDecision expunge(std::uint32_t index) override {
    EXPECT_FALSE(expunged_elsewhere(index)) << "the store has no message " << index << " to remove";
    calls.push_back("expunge uid " + std::to_string(inbox.at(index).uid));
    if (inbox.at(index).uid == locked_uid) return ImapDecision::rejected("INUSE", "Mailbox in use by POP3");
    inbox.erase(inbox.begin() + index);
    for (std::uint32_t& gone : vanishing) gone -= gone > index ? 1 : 0;
    return ImapDecision::accepted();
  }
  std::uint32_t locked_uid = 0;  // expunge() refuses this message
  ImapDecision commit_answer = ImapDecision::accepted();
  ImapDecision commit() override {
    calls.emplace_back("commit");
    resumed = commit_answer;
    return ImapDecision::later();
  }
  ImapDecision append_begin(std::size_t mailbox, std::uint32_t size_bytes, ImapFlags flags) override {
    calls.push_back("append_begin " + std::to_string(mailbox) + " " + std::to_string(size_bytes) + " " +
                    std::to_string(flags));
    if (size_bytes > 100) return ImapDecision::rejected("TOOBIG", "Message too big");
    if (mailbox != 0) return ImapDecision::rejected("CANNOT", "Only INBOX keeps messages");
    appending = {"", 40, flags, 0};
    return ImapDecision::accepted();
  }
  bool append_data(std::span<const std::uint8_t> bytes) override {
    appending.bytes.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return appending.bytes.find("FAIL") == std::string::npos;
  }
  ImapDecision append_end(bool keep) override {
    calls.push_back("append_end " + std::string(keep ? "keep " : "drop ") + appending.bytes);
    if (!keep) return ImapDecision::rejected("UNAVAILABLE", "Message not kept");
    arriving.push_back(appending);
    resumed = ImapDecision::accepted();
    return ImapDecision::later();
  }
  std::uint32_t appended_uid() override { return 40; }
  FakeMessage appending;

  // COPY and MOVE: each folder but INBOX keeps its copies here (a copy into
  // INBOX arrives at the next refresh), with UIDs from 100 on.
  std::map<std::size_t, std::vector<FakeMessage>> folder;
  std::size_t refuses_copies_to = 4;  // Junk
  std::uint32_t refused_copy_uid = 0;  // copy_message() refuses this message
  ImapDecision copy_begin(std::size_t mailbox, bool move) override {
    calls.push_back("copy_begin " + std::to_string(mailbox) + (move ? " move" : ""));
    if (mailbox == refuses_copies_to) return ImapDecision::rejected("CANNOT", "No copies here");
    copying_to = mailbox;
    return ImapDecision::accepted();
  }
  ImapDecision copy_message(std::uint32_t index) override {
    calls.push_back("copy uid " + std::to_string(inbox.at(index).uid));
    if (inbox.at(index).uid == refused_copy_uid) return ImapDecision::rejected("OVERQUOTA", "Folder full");
    copying.push_back(inbox.at(index));
    copying.back().uid = next_copy_uid++;
    return ImapDecision::accepted();
  }
  std::uint32_t copied_uid() override { return copying.back().uid; }
  ImapDecision copy_commit() override {
    calls.push_back("copy_commit " + std::to_string(copying.size()));
    std::vector<FakeMessage>& into = copying_to == 0 ? arriving : folder[copying_to];
    into.insert(into.end(), copying.begin(), copying.end());
    copying.clear();
    resumed = ImapDecision::accepted();
    return ImapDecision::later();
  }
  void copy_discard() override {
    calls.emplace_back("copy_discard");
    copying.clear();
  }
  std::vector<FakeMessage> copying;
  std::size_t copying_to = 0;
  std::uint32_t next_copy_uid = 100;
  void refresh() override {
    for (FakeMessage& message : arriving) inbox.push_back(message);
    arriving.clear();
  }
  std::optional<std::uint32_t> take_vanished() override {
    if (vanishing.empty()) return std::nullopt;
    const std::uint32_t index = vanishing.front();
    vanishing.erase(vanishing.begin());
    inbox.erase(inbox.begin() + index);
    return index;
  }
  bool expunged_elsewhere(std::uint32_t index) override {
    return std::find(vanishing.begin(), vanishing.end(), index) != vanishing.end();
  }
  std::vector<std::pair<std::uint32_t, ImapFlags>> flag_changes;  // what refresh() finds another session stored
  std::optional<std::uint32_t> take_flag_change() override {
    if (flag_changes.empty()) return std::nullopt;
    const auto [index, flags] = flag_changes.front();
    flag_changes.erase(flag_changes.begin());
    inbox.at(index).flags = flags;
    return index;
  }
  void release() override { calls.emplace_back("release"); }

 private:
  const std::vector<ImapMailbox> folders{
      {"INBOX", ""}, {"Sent", "\\Sent"}, {"Drafts", "\\Drafts"}, {"Trash", "\\Trash"}, {"Junk", "\\Junk"}};
  std::size_t selected = 99;
};

ImapServerSettings tls_settings() {
  ImapServerSettings settings;
  settings.host_name = "imap.test";
  settings.tls_active = true;
  return settings;
}

ImapServerSettings plain_settings() {
  ImapServerSettings settings = tls_settings();
  settings.tls_active = false;
  settings.starttls_offered = true;
  return settings;
}

// One IMAP session: the engine, its store, and a client that sends input cut
// by a plan and reads replies `read_step_bytes` at a time (0: all at once).
class Session : public testing::StreamingClient<Session> {
 public:
  explicit Session(const ImapServerSettings& settings, std::size_t read_step_bytes = 0)
      : StreamingClient(read_step_bytes), server_(store, out_, settings) {
    server_.start();
  }

  FakeStore store;
  ImapServer& server() { return server_; }
  protocol::OutputBuffer& output() { return out_; }
  std::vector<std::string>& calls() { return store.calls; }

 private:
  friend class testing::EngineClient<Session>;
  friend class testing::StreamingClient<Session>;
  ImapDecision resumed_decision() { return store.resumed; }

  ImapServer server_;
};

using Configure = void (*)(FakeStore&);

Transcript run(std::string_view input, const ImapServerSettings& settings = tls_settings(),
               Configure configure = [](FakeStore&) {}) {
  return same_result_for_every_split([&](const SplitPlan& plan) {
    Session session(settings);
    configure(session.store);
    session.send(input, plan);
    return session.transcript();
  });
}

constexpr std::string_view capabilities =
    "IMAP4rev1 IMAP4rev2 LITERAL- SASL-IR ENABLE IDLE NAMESPACE ID UNSELECT UIDPLUS MOVE SPECIAL-USE ESEARCH "
    "SEARCHRES LIST-EXTENDED LIST-STATUS BINARY";
const std::string greeting = "* OK [CAPABILITY " + std::string(capabilities) + " AUTH=PLAIN] imap.test IMAP4rev1 pigeon ready\r\n";
constexpr std::string_view login = "a LOGIN alice secret\r\n";
constexpr std::string_view select_inbox = "s SELECT INBOX\r\n";

std::string with_greeting(std::string_view replies) { return greeting + std::string(replies); }

// What the client hears after the greeting, the login and SELECT INBOX.
std::string selected_then(std::string_view replies) {
  return with_greeting(
      "a OK Logged in\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
      "* OK [PERMANENTFLAGS (\\Deleted)] Flags kept beyond this session\r\n* 3 EXISTS\r\n* 0 RECENT\r\n"
      "* OK [UNSEEN 2] First unseen\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n* OK [UIDNEXT 16] Predicted next UID\r\n"
      "s OK [READ-WRITE] SELECT completed\r\n" +
      std::string(replies));
}
std::string after_select(std::string_view commands) {
  return std::string(login) + std::string(select_inbox) + std::string(commands);
}

TEST(ImapServer, CapabilityBeforeAndAfterLogin) {
  EXPECT_EQ(run("c1 CAPABILITY\r\n" + std::string(login) + "c2 capability\r\n").output,
            with_greeting("* CAPABILITY " + std::string(capabilities) + " AUTH=PLAIN\r\nc1 OK CAPABILITY completed\r\n"
                          "a OK Logged in\r\n* CAPABILITY " + std::string(capabilities) +
                          "\r\nc2 OK CAPABILITY completed\r\n"));
}

TEST(ImapServer, BeforeTlsLoginIsDisabledAndStarttlsOffered) {
  const Transcript t = run("c CAPABILITY\r\na LOGIN alice secret\r\nb AUTHENTICATE PLAIN " +
                               std::string(plain_alice) + "\r\n",
                           plain_settings());
  EXPECT_EQ(t.output, "* OK [CAPABILITY " + std::string(capabilities) +
                          " LOGINDISABLED STARTTLS] imap.test IMAP4rev1 pigeon ready\r\n* CAPABILITY " +
                          std::string(capabilities) +
                          " LOGINDISABLED STARTTLS\r\nc OK CAPABILITY completed\r\n"
                          "a NO [PRIVACYREQUIRED] Login only after STARTTLS\r\n"
                          "b NO [PRIVACYREQUIRED] Login only after STARTTLS\r\n");
  EXPECT_TRUE(t.calls.empty());
}

TEST(ImapServer, StarttlsThenLogin) {
  const Transcript t = same_result_for_every_split([](const SplitPlan& plan) {
    Session session(plain_settings());
    session.send("t STARTTLS\r\n", plan);
    EXPECT_EQ(session.handshake(), "");
    session.send("t2 STARTTLS\r\na LOGIN alice secret\r\n", plan);
    return session.transcript();
  });
  EXPECT_TRUE(t.output.ends_with("t OK Begin TLS negotiation now\r\nt2 BAD STARTTLS not available\r\n"
                                 "a OK Logged in\r\n"));
  EXPECT_EQ(t.calls, (Calls{"<tls handshake>", "login [] alice secret"}));
}

TEST(ImapServer, StarttlsDropsPipelinedCommandsAndNeedsATlsSession) {
  Session session(plain_settings());
  session.send("t STARTTLS\r\na LOGIN mallory x\r\n", SplitPlan::whole());
  EXPECT_EQ(session.handshake(), "a LOGIN mallory x\r\n");

  const Transcript busy = run("t STARTTLS\r\n", plain_settings(), [](FakeStore& store) { store.tls_session_free = false; });
  EXPECT_TRUE(busy.output.ends_with("t NO [UNAVAILABLE] TLS not available now, try again later\r\n"));
}

TEST(ImapServer, LoginWithQuotedAndLiteralStrings) {
  const Transcript t = run("a LOGIN \"al\\\"ice\" {7}\r\nsec ret\r\nb LOGIN x {3+}\r\nabc\r\n");
  EXPECT_EQ(t.output, with_greeting("+ Ready for literal data\r\na OK Logged in\r\n"
                                    "b BAD Command not valid in this state or arguments invalid\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] al\"ice sec ret"}));
}

TEST(ImapServer, LoginRefusedCarriesTheResponseCode) {
  const Transcript t = run("a LOGIN alice wrong\r\nb NOOP\r\n", tls_settings(), [](FakeStore& store) {
    store.login_answer = ImapDecision::later();
    store.resumed = ImapDecision::rejected("AUTHENTICATIONFAILED", "Authentication failed");
  });
  EXPECT_EQ(t.output, with_greeting("a NO [AUTHENTICATIONFAILED] Authentication failed\r\nb OK NOOP completed\r\n"));
}

TEST(ImapServer, AuthenticatePlainWithAndWithoutInitialResponse) {
  const Transcript initial = run("a AUTHENTICATE PLAIN " + std::string(plain_alice) + "\r\n");
  EXPECT_EQ(initial.output, with_greeting("a OK Logged in\r\n"));
  EXPECT_EQ(initial.calls, (Calls{"login [] alice secret"}));

  const Transcript prompted = run("a AUTHENTICATE PLAIN\r\n" + std::string(plain_alice) + "\r\n");
  EXPECT_EQ(prompted.output, with_greeting("+ \r\na OK Logged in\r\n"));
  EXPECT_EQ(prompted.calls, initial.calls);

  const Transcript refused = run("a AUTHENTICATE PLAIN\r\n*\r\nb AUTHENTICATE CRAM-MD5\r\nc AUTHENTICATE PLAIN !!\r\n");
  EXPECT_EQ(refused.output, with_greeting("+ \r\na BAD Authentication cancelled\r\n"
                                          "b NO [CANNOT] Unsupported SASL mechanism\r\nc BAD Invalid AUTHENTICATE data\r\n"));
  EXPECT_TRUE(refused.calls.empty());
}

TEST(ImapServer, BadInputGetsBadAndTheSessionGoesOn) {
  const Transcript t = run(
      "\r\n NOOP\r\nx\r\nt FROB\r\nt SELECT INBOX\r\nt NOOP extra\r\nt+ NOOP\r\nt\xC3\xA9 NOOP\r\nt NO\xC3\xA9P\r\nz NOOP\r\n");
  EXPECT_EQ(t.output, with_greeting("* BAD Empty command line\r\n* BAD Missing or invalid tag\r\n"
                                    "* BAD Missing or invalid tag\r\nt BAD Unknown command\r\n"
                                    "t BAD Command not valid in this state or arguments invalid\r\n"
                                    "t BAD Command not valid in this state or arguments invalid\r\n"
                                    "* BAD Missing or invalid tag\r\n* BAD Missing or invalid tag\r\n"
                                    "t BAD Missing command name\r\nz OK NOOP completed\r\n"));
}

TEST(ImapServer, OverlongLinesAndLiteralsAreRefusedAndTheStreamStaysInStep) {
  const std::string long_line = "t1 NOOP " + std::string(3000, 'x') + "\r\n";
  // A synchronising literal over the bound is refused before the client sends
  // it; a non-synchronising one is read and dropped, then refused.
  const std::string sync_literal = "t2 LOGIN alice {5000}\r\n";
  const std::string nonsync_literal = "t3 LOGIN alice {3000+}\r\n" + std::string(3000, 'p') + "\r\n";
  const std::string chained = "t4 LOGIN {2000+}\r\n" + std::string(2000, 'u') + " {2+}\r\nab\r\n";
  const Transcript t = run(long_line + sync_literal + nonsync_literal + chained + "z NOOP\r\n");
  EXPECT_EQ(t.output, with_greeting("t1 BAD [TOOBIG] Command line or literal too long\r\n"
                                    "t2 BAD [TOOBIG] Command line or literal too long\r\n"
                                    "t3 BAD [TOOBIG] Command line or literal too long\r\n"
                                    "t4 BAD [TOOBIG] Command line or literal too long\r\n"
                                    "z OK NOOP completed\r\n"));
  EXPECT_TRUE(t.calls.empty());
}

// A length past 32 bits is still a literal's announcement: the synchronising
// one is refused like any literal over the bound; the bytes of a
// non-synchronising one cannot be counted off, so what follows them could
// not be told from commands, and the session ends instead of answering them.
TEST(ImapServer, LiteralsTooLongToCountAreRefusedOrEndTheSession) {
  const Transcript refused = run("t1 LOGIN {99999999999}\r\nt2 APPEND INBOX {4294967296}\r\nz NOOP\r\n");
  EXPECT_EQ(refused.output, with_greeting("t1 BAD [TOOBIG] Command line or literal too long\r\n"
                                          "t2 BAD [TOOBIG] Command line or literal too long\r\n"
                                          "z OK NOOP completed\r\n"));
  for (const std::string_view command : {"t LOGIN {99999999999+}\r\nz NOOP\r\n",
                                         "t APPEND INBOX {4294967296+}\r\nz NOOP\r\n"}) {
    const Transcript t = run(std::string(login) + std::string(command));
    EXPECT_EQ(t.output, with_greeting("a OK Logged in\r\n"
                                      "* BYE [TOOBIG] Literal too long to skip, closing connection\r\n"))
        << command;
  }
}

TEST(ImapServer, ListLsubNamespaceAndSpecialUse) {
  const Transcript t = run(std::string(login) +
                           "l1 LIST \"\" \"*\"\r\nl2 LIST \"\" \"\"\r\nl3 LIST (SPECIAL-USE) \"\" *\r\n"
                           "l4 LIST \"\" % RETURN (SPECIAL-USE)\r\nl5 LIST \"\" inbox\r\nl6 LSUB \"\" T*\r\n"
                           "n NAMESPACE\r\ne ENABLE CONDSTORE\r\ni ID (\"name\" \"test\")\r\n");
  const std::string all = "* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
                          "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts\r\n* LIST (\\HasNoChildren \\Trash) \"/\" Trash\r\n"
                          "* LIST (\\HasNoChildren \\Junk) \"/\" Junk\r\n";
  EXPECT_EQ(t.output,
            with_greeting("a OK Logged in\r\n" + all + "l1 OK LIST completed\r\n* LIST (\\Noselect) \"/\" \"\"\r\n"
                          "l2 OK LIST completed\r\n" + all.substr(all.find("\r\n") + 2) + "l3 OK LIST completed\r\n" +
                          all + "l4 OK LIST completed\r\n* LIST (\\HasNoChildren) \"/\" INBOX\r\nl5 OK LIST completed\r\n"
                          "* LSUB (\\HasNoChildren \\Trash) \"/\" Trash\r\nl6 OK LSUB completed\r\n"
                          "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nn OK NAMESPACE completed\r\n"
                          "* ENABLED\r\ne OK ENABLE completed\r\n* ID (\"name\" \"pigeon\")\r\ni OK ID completed\r\n"));
}

TEST(ImapServer, StatusAndFixedMailboxes) {
  const Transcript t = run(std::string(login) +
                           "s1 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE RECENT)\r\n"
                           "s2 STATUS Nowhere (MESSAGES)\r\ns3 STATUS INBOX (BOGUS)\r\nc CREATE Work\r\n"
                           "d SUBSCRIBE Sent\r\n");
  const std::size_t size = first_message.size() + second_message.size() + third_message.size();
  EXPECT_EQ(t.output, with_greeting("a OK Logged in\r\n* STATUS INBOX (MESSAGES 3 UIDNEXT 16 UIDVALIDITY 7 UNSEEN 2 SIZE " +
                                    std::to_string(size) +
                                    " RECENT 0)\r\ns1 OK STATUS completed\r\ns2 NO [NONEXISTENT] No such mailbox\r\n"
                                    "s3 BAD Unknown STATUS item\r\n"
                                    "c NO [CANNOT] The mailboxes are fixed: INBOX and the special-use folders\r\n"
                                    "d OK SUBSCRIBE completed\r\n"));
}

TEST(ImapServer, SelectExamineUnselectAndLogout) {
  const Transcript t = run(after_select("e EXAMINE Sent\r\nf STORE 1 +FLAGS (\\Seen)\r\nu UNSELECT\r\n"
                                        "g FETCH 1 FLAGS\r\nx SELECT Nowhere\r\nq LOGOUT\r\nafter NOOP\r\n"));
  EXPECT_EQ(t.output, selected_then("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                                    "* OK [PERMANENTFLAGS ()] Flags kept beyond this session\r\n* 0 EXISTS\r\n"
                                    "* 0 RECENT\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n* OK [UIDNEXT 16] Predicted next UID\r\n"
                                    "e OK [READ-ONLY] EXAMINE completed\r\nf BAD Invalid sequence set\r\n"
                                    "u OK UNSELECT completed\r\n"
                                    "g BAD Command not valid in this state or arguments invalid\r\n"
                                    "x NO [NONEXISTENT] No such mailbox\r\n* BYE Logging out\r\nq OK LOGOUT completed\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "unselect", "select Sent", "unselect", "release"}));
}

TEST(ImapServer, FetchSimpleItems) {
  const Transcript t = run(after_select("f FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)\r\nu UID FETCH 11,15 FLAGS\r\n"
                                        "g FETCH 2 FAST\r\n"));
  const std::string sizes[] = {std::to_string(first_message.size()), std::to_string(second_message.size()),
                               std::to_string(third_message.size())};
  EXPECT_EQ(t.output, selected_then(
                          "* 1 FETCH (FLAGS (\\Seen) UID 10 RFC822.SIZE " + sizes[0] +
                          " INTERNALDATE \"06-Dec-2025 05:46:40 +0000\")\r\n"
                          "* 2 FETCH (FLAGS () UID 11 RFC822.SIZE " + sizes[1] +
                          " INTERNALDATE \"07-Dec-2025 09:33:20 +0000\")\r\n"
                          "* 3 FETCH (FLAGS (\\Flagged) UID 15 RFC822.SIZE " + sizes[2] +
                          " INTERNALDATE \"08-Dec-2025 13:20:00 +0000\")\r\nf OK FETCH completed\r\n"
                          "* 2 FETCH (UID 11 FLAGS ())\r\n* 3 FETCH (UID 15 FLAGS (\\Flagged))\r\nu OK UID FETCH completed\r\n"
                          "* 2 FETCH (FLAGS () INTERNALDATE \"07-Dec-2025 09:33:20 +0000\" RFC822.SIZE " + sizes[1] +
                          ")\r\ng OK FETCH completed\r\n"));
}

std::string literal(std::string_view text) { return "{" + std::to_string(text.size()) + "}\r\n" + std::string(text); }

TEST(ImapServer, FetchBodySections) {
  const Transcript t = run(after_select(
      "f FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (SUBJECT to)] "
      "BODY.PEEK[HEADER.FIELDS.NOT (To From)] BODY.PEEK[]<6.10> RFC822.HEADER)\r\n"));
  const std::string header = first_message.substr(0, first_message.find("\r\n\r\n") + 4);
  EXPECT_EQ(t.output,
            selected_then("* 1 FETCH (BODY[HEADER] " + literal(header) + " BODY[TEXT] " + literal("Hello\r\n") +
                          " BODY[HEADER.FIELDS (SUBJECT to)] " +
                          literal("Subject: one\r\nTo: bob@example.org,\r\n carol@example.org\r\n\r\n") +
                          " BODY[HEADER.FIELDS.NOT (To From)] " + literal("Subject: one\r\n\r\n") + " BODY[]<6> " +
                          literal(first_message.substr(6, 10)) + " RFC822.HEADER " + literal(header) +
                          ")\r\nf OK FETCH completed\r\n"));
}

TEST(ImapServer, FetchWithoutPeekSetsSeenAndSaysSo) {
  const Transcript t = run(after_select("f FETCH 2 BODY[]\r\ng FETCH 2 (FLAGS RFC822)\r\ne EXAMINE INBOX\r\n"
                                        "h FETCH 3 (BODY[TEXT]<0.1>)\r\ni FETCH 3 FLAGS\r\n"));
  EXPECT_EQ(t.output.substr(selected_then("").size()),
            "* 2 FETCH (BODY[] " + literal(second_message) + " FLAGS (\\Seen))\r\nf OK FETCH completed\r\n"
            "* 2 FETCH (FLAGS (\\Seen) RFC822 " + literal(second_message) + ")\r\ng OK FETCH completed\r\n"
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [PERMANENTFLAGS ()] Flags kept beyond this session\r\n"
            "* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UNSEEN 3] First unseen\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n"
            "* OK [UIDNEXT 16] Predicted next UID\r\ne OK [READ-ONLY] EXAMINE completed\r\n"
            "* 3 FETCH (BODY[TEXT]<0> {1}\r\n.)\r\nh OK FETCH completed\r\n* 3 FETCH (FLAGS (\\Flagged))\r\ni OK FETCH completed\r\n");
}

TEST(ImapServer, FetchRefusals) {
  const Transcript t = run(after_select("a FETCH 4 FLAGS\r\nb FETCH 0 FLAGS\r\nc FETCH 1 BODY[MIME]\r\nd FETCH 1 BODY[1.]\r\n"
                                        "e FETCH 1 (FLAGS\r\nf FETCH x FLAGS\r\ng FETCH 1 FROB\r\nh FETCH 1 BODY[1.2TEXT]\r\n"
                                        "i FETCH 1 ()\r\nj FETCH 1 BODY[1.MIMES]\r\nk FETCH 1 BODYSTRUCTURE[1]\r\n"));
  EXPECT_EQ(t.output, selected_then("a BAD Invalid sequence set\r\nb BAD Invalid sequence set\r\n"
                                    "c BAD Unknown section in BODY[section]\r\n"
                                    "d BAD Syntax: BODY[part.section]\r\n"
                                    "e BAD Syntax: FETCH sequence-set items\r\nf BAD Invalid sequence set\r\n"
                                    "g BAD Unknown FETCH item\r\nh BAD Syntax: BODY[part.section]\r\n"
                                    "i BAD Syntax: FETCH sequence-set items\r\n"
                                    "j BAD Unknown section in BODY[section]\r\n"
                                    "k BAD Syntax: FETCH sequence-set items\r\n"));
}

TEST(ImapServer, FetchEnvelope) {
  const auto with_envelope_message = [](FakeStore& store) {
    store.inbox.push_back(
        {"Date: Mon, 7 Dec 2026 17:00:00 +0000\r\nFrom: \"Doe, Jane\" <jane@example.org> (work)\r\n"
         "Reply-To: list: a@example.org, Bob <b@example.org>;\r\nTo: x@example.org (Xavier),\r\n y\r\n"
         "Subject: caf\xC3\xA9 \"quoted\"\r\nMessage-ID: <id@example.org>\r\n\r\nbody\r\n",
         20, 0, 0});
  };
  const Transcript t = run(after_select("e FETCH 2,4 ENVELOPE\r\na FETCH 3 ALL\r\n"), tls_settings(), with_envelope_message);
  EXPECT_EQ(t.output.substr(t.output.find("s OK [READ-WRITE]")),
            "s OK [READ-WRITE] SELECT completed\r\n"
            "* 2 FETCH (ENVELOPE (NIL \"two\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
            "* 4 FETCH (ENVELOPE (\"Mon, 7 Dec 2026 17:00:00 +0000\" {14}\r\ncaf\xC3\xA9 \"quoted\" "
            "((\"Doe, Jane\" NIL \"jane\" \"example.org\")) ((\"Doe, Jane\" NIL \"jane\" \"example.org\")) "
            "((NIL NIL \"list\" NIL)(NIL NIL \"a\" \"example.org\")(\"Bob\" NIL \"b\" \"example.org\")(NIL NIL NIL NIL)) "
            "((\"Xavier\" NIL \"x\" \"example.org\")(NIL NIL \"y\" \"\")) NIL NIL NIL \"<id@example.org>\"))\r\n"
            "e OK FETCH completed\r\n"
            "* 3 FETCH (FLAGS (\\Flagged) INTERNALDATE \"08-Dec-2025 13:20:00 +0000\" RFC822.SIZE " +
                std::to_string(third_message.size()) + " "
            "ENVELOPE (NIL \"three\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\na OK FETCH completed\r\n");
}

const std::string mime_message =
    "From: a@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer b\"\r\n\r\n"
    "preamble\r\n"
    "--outer b\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "caf=C3=A9\r\nline 2\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\nContent-Language: en, de\r\n\r\n"
    "<p>x</p>\r\n"
    "--inner--\r\n"
    "--outer b\r\n"
    "Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n"
    "From: b@example.org\r\nSubject: inside\r\n\r\n"
    "embedded\r\n"
    "--outer b\r\n"
    "Content-Type: application/pdf; name=\"a \\\"b\\\".pdf\"\r\n"
    "Content-ID: <pdf@x>\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment;\r\n filename=\"a.pdf\"; size=4\r\n"
    "Content-Location: http://example.org/a.pdf\r\n\r\n"
    "AAECAw==\r\n"
    "--outer b--\r\n";

void with_mime_message(FakeStore& store) { store.inbox.push_back({mime_message, 20, 0, 0}); }

TEST(ImapServer, FetchBodyStructure) {
  const Transcript t = run(after_select("a FETCH 4 BODYSTRUCTURE\r\nb FETCH 4 BODY\r\nc FETCH 3 (BODYSTRUCTURE UID)\r\n"),
                           tls_settings(), with_mime_message);
  const std::string embedded_envelope =
      "(NIL \"inside\" ((NIL NIL \"b\" \"example.org\")) ((NIL NIL \"b\" \"example.org\")) "
      "((NIL NIL \"b\" \"example.org\")) NIL NIL NIL NIL NIL)";
  EXPECT_EQ(t.output.substr(t.output.find("s OK [READ-WRITE]")),
            "s OK [READ-WRITE] SELECT completed\r\n"
            "* 4 FETCH (BODYSTRUCTURE ("
            "((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"quoted-printable\" 17 1 NIL NIL NIL NIL)"
            "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL (\"en\" \"de\") NIL)"
            " \"alternative\" (\"boundary\" \"inner\") NIL NIL NIL)"
            "(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7bit\" 48 " + embedded_envelope +
            " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)"
            "(\"application\" \"pdf\" (\"name\" \"a \\\"b\\\".pdf\") \"<pdf@x>\" NIL \"base64\" 8"
            " \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"attachment\" (\"filename\" \"a.pdf\" \"size\" \"4\")) NIL"
            " \"http://example.org/a.pdf\")"
            " \"mixed\" (\"boundary\" \"outer b\") NIL NIL NIL))\r\n"
            "a OK FETCH completed\r\n"
            "* 4 FETCH (BODY ("
            "((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"quoted-printable\" 17 1)"
            "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0) \"alternative\")"
            "(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7bit\" 48 " + embedded_envelope +
            " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0) 3)"
            "(\"application\" \"pdf\" (\"name\" \"a \\\"b\\\".pdf\") \"<pdf@x>\" NIL \"base64\" 8)"
            " \"mixed\"))\r\n"
            "b OK FETCH completed\r\n"
            "* 3 FETCH (BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL) UID 15)\r\n"
            "c OK FETCH completed\r\n");
}

TEST(ImapServer, FetchMimeParts) {
  const Transcript t = run(after_select("a FETCH 4 (BODY.PEEK[1.1] BODY.PEEK[1.2.MIME] BODY.PEEK[2.HEADER])\r\n"
                                        "b FETCH 4 (BODY.PEEK[2.TEXT] BODY.PEEK[2.HEADER.FIELDS (Subject)] BODY.PEEK[3]<2.4>)\r\n"
                                        "c FETCH 4 (BODY.PEEK[4] BODY.PEEK[3.HEADER] BODY.PEEK[2.1] BODY.PEEK[1.3])\r\n"
                                        "d FETCH 2 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[1.TEXT])\r\n"
                                        "e FETCH 4 (FLAGS BODY[3])\r\n"),
                           tls_settings(), with_mime_message);
  EXPECT_EQ(t.output.substr(t.output.find("s OK [READ-WRITE]")),
            "s OK [READ-WRITE] SELECT completed\r\n"
            "* 4 FETCH (BODY[1.1] {17}\r\ncaf=C3=A9\r\nline 2 "
            "BODY[1.2.MIME] {53}\r\nContent-Type: text/html\r\nContent-Language: en, de\r\n\r\n "
            "BODY[2.HEADER] {40}\r\nFrom: b@example.org\r\nSubject: inside\r\n\r\n)\r\n"
            "a OK FETCH completed\r\n"
            "* 4 FETCH (BODY[2.TEXT] {8}\r\nembedded BODY[2.HEADER.FIELDS (Subject)] {19}\r\nSubject: inside\r\n\r\n "
            "BODY[3]<2> {4}\r\nECAw)\r\n"
            "b OK FETCH completed\r\n"
            "* 4 FETCH (BODY[4] NIL BODY[3.HEADER] NIL BODY[2.1] {8}\r\nembedded BODY[1.3] NIL)\r\n"
            "c OK FETCH completed\r\n"
            "* 2 FETCH (BODY[1] {14}\r\nline1\r\nline2\r\n BODY[1.MIME] {27}\r\nSubject: two\r\nX-Long: 1\r\n\r\n "
            "BODY[1.TEXT] NIL)\r\n"
            "d OK FETCH completed\r\n"
            "* 4 FETCH (FLAGS (\\Seen) BODY[3] {8}\r\nAAECAw==)\r\n"
            "e OK FETCH completed\r\n");
}

TEST(ImapServer, APartsFieldsAreReadFromItsOwnHeaderOnly) {
  // The first part's header meets the next boundary without a blank line: the
  // second part's Content-ID is not the first's.
  const Transcript t = run(after_select("a FETCH 4 BODYSTRUCTURE\r\n"), tls_settings(), [](FakeStore& store) {
    store.inbox.push_back({"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n--b\r\n"
                           "Content-ID: <x>\r\n\r\ntwo\r\n--b--\r\n",
                           20, 0, 0});
  });
  EXPECT_EQ(t.output.substr(t.output.find("s OK [READ-WRITE] SELECT completed\r\n") + 36),
            "* 4 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<x>\" NIL \"7bit\" 3 0 NIL NIL NIL NIL)"
            " \"mixed\" (\"boundary\" \"b\") NIL NIL NIL))\r\na OK FETCH completed\r\n");
}

TEST(ImapServer, TheLongestFieldValuesFitAPieceOfTheStructure) {
  // Values that grow most when written: escaped quotes, short parameters,
  // 8-bit bytes as literals, one-letter languages; each cut at 160 bytes.
  const auto with_worst_fields = [](FakeStore& store) {
    std::string quotes = "text/plain; q=\"";
    while (quotes.size() < 170) quotes += "\\\"";
    quotes += "\"";
    std::string short_parameters = "attachment";
    while (short_parameters.size() < 170) short_parameters += ";a=b";
    std::string languages = "a";
    while (languages.size() < 170) languages += ",a";
    store.inbox.push_back({"Content-Type: " + quotes + "\r\nContent-Disposition: " + short_parameters +
                               "\r\nContent-Language: " + languages + "\r\nContent-Description: " +
                               std::string(170, '\xE9') + "\r\nContent-ID: " + std::string(170, '"') +
                               "\r\n\r\nbody\r\n",
                           20, 0, 0});
  };
  const Transcript t = run(after_select("a FETCH 4 BODYSTRUCTURE\r\nb NOOP\r\n"), tls_settings(), with_worst_fields);
  // Each value is cut at 160 bytes: the quoted parameter loses its end (and
  // so is dropped), 37 whole "a=b" and 80 languages remain.
  std::string expected = "* 4 FETCH (BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") \"";
  for (int i = 0; i < 160; ++i) expected += "\\\"";
  expected += "\" {160}\r\n" + std::string(160, '\xE9') + " \"7bit\" 6 1 NIL (\"attachment\" (";
  for (int i = 0; i < 37; ++i) expected += i == 0 ? "\"a\" \"b\"" : " \"a\" \"b\"";
  expected += ")) (";
  for (int i = 0; i < 80; ++i) expected += i == 0 ? "\"a\"" : " \"a\"";
  expected += ") NIL))\r\na OK FETCH completed\r\nb OK NOOP completed\r\n";
  EXPECT_EQ(t.output.substr(t.output.find("* 4 FETCH")), expected);
}

TEST(ImapServer, FetchFullAndItemsAfterEnvelope) {
  const Transcript t = run(after_select("a FETCH 3 FULL\r\nb FETCH 3 (ENVELOPE UID)\r\n"));
  EXPECT_EQ(t.output, selected_then("* 3 FETCH (FLAGS (\\Flagged) INTERNALDATE \"08-Dec-2025 13:20:00 +0000\" RFC822.SIZE " +
                                    std::to_string(third_message.size()) +
                                    " ENVELOPE (NIL \"three\" NIL NIL NIL NIL NIL NIL NIL NIL)"
                                    " BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1))\r\n"
                                    "a OK FETCH completed\r\n"
                                    "* 3 FETCH (ENVELOPE (NIL \"three\" NIL NIL NIL NIL NIL NIL NIL NIL) UID 15)\r\n"
                                    "b OK FETCH completed\r\n"));
}

TEST(ImapServer, ALongBodyStructureStreamsThroughTheOutput) {
  // Thirty parts with long names: the reply is several times the output buffer.
  const auto with_many_parts = [](FakeStore& store) {
    std::string message = "Content-Type: multipart/mixed; boundary=p\r\n\r\n";
    for (int i = 0; i < 30; ++i) {
      message += "--p\r\nContent-Type: text/plain; name=\"" + std::string(100, static_cast<char>('a' + i % 26)) +
                 "\"\r\n\r\npart\r\n";
    }
    message += "--p--\r\n";
    store.inbox.push_back({message, 20, 0, 0});
  };
  const Transcript t = run(after_select("a FETCH 4 BODYSTRUCTURE\r\n"), tls_settings(), with_many_parts);
  std::string expected = "* 4 FETCH (BODYSTRUCTURE (";
  for (int i = 0; i < 30; ++i) {
    expected += "(\"text\" \"plain\" (\"name\" \"" + std::string(100, static_cast<char>('a' + i % 26)) +
                "\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL)";
  }
  expected += " \"mixed\" (\"boundary\" \"p\") NIL NIL NIL))\r\na OK FETCH completed\r\n";
  EXPECT_EQ(t.output.substr(t.output.find("s OK [READ-WRITE] SELECT completed\r\n") + 36), expected);
}

TEST(ImapServer, UnreadableMessageEndsAStructure) {
  const Transcript t = run(after_select("f FETCH 4 BODYSTRUCTURE\r\nn NOOP\r\n"), tls_settings(), [](FakeStore& store) {
    with_mime_message(store);
    store.unreadable_at = 3;
  });
  EXPECT_TRUE(t.output.ends_with("* BYE Message unreadable, try again later\r\n")) << t.output;
  EXPECT_EQ(t.calls.back(), "release");
}

TEST(ImapServer, FetchBinaryUndoesTheTransferEncoding) {
  const Transcript t = run(after_select("a FETCH 4 (BINARY.PEEK[1.1] BINARY.SIZE[1.1] BINARY.PEEK[3] BINARY.SIZE[3])\r\n"
                                        "b FETCH 4 (BINARY.PEEK[3]<1.2> BINARY.PEEK[2.1] BINARY.PEEK[5] BINARY.SIZE[5])\r\n"
                                        "c FETCH 3 (BINARY.PEEK[] BINARY.SIZE[1])\r\n"
                                        "d FETCH 4 (FLAGS BINARY[1.2])\r\n"),
                           tls_settings(), with_mime_message);
  EXPECT_EQ(t.output.substr(t.output.find("s OK [READ-WRITE]")),
            "s OK [READ-WRITE] SELECT completed\r\n"
            "* 4 FETCH (BINARY[1.1] ~{13}\r\ncaf\xC3\xA9\r\nline 2 BINARY.SIZE[1.1] 13 "
            "BINARY[3] ~{4}\r\n" + std::string("\0\1\2\3", 4) + " BINARY.SIZE[3] 4)\r\n"
            "a OK FETCH completed\r\n"
            "* 4 FETCH (BINARY[3]<1> ~{2}\r\n\1\2 BINARY[2.1] ~{8}\r\nembedded BINARY[5] NIL BINARY.SIZE[5] 0)\r\n"
            "b OK FETCH completed\r\n"
            "* 3 FETCH (BINARY[] ~{" + std::to_string(third_message.size()) + "}\r\n" + third_message +
            " BINARY.SIZE[1] 3)\r\n"
            "c OK FETCH completed\r\n"
            "* 4 FETCH (FLAGS (\\Seen) BINARY[1.2] ~{8}\r\n<p>x</p>)\r\n"
            "d OK FETCH completed\r\n");
}

TEST(ImapServer, FetchBinaryOfAnUnknownEncodingFailsWhole) {
  const auto with_uuencoded = [](FakeStore& store) {
    store.inbox.push_back({"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nplain\r\n--b\r\n"
                           "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n--b--\r\n",
                           20, 0, 0});
  };
  const Transcript t = run(after_select("a FETCH 1:4 (UID BINARY[2])\r\nb FETCH 4 (BINARY[1] BODY.PEEK[2])\r\n"
                                        "c FETCH 4 FLAGS\r\nd FETCH 4 BINARY[1.MIME]\r\ne FETCH 4 BINARY.SIZE[1]<0.2>\r\n"
                                        "f FETCH 4 BINARY[.1]\r\n"),
                           tls_settings(), with_uuencoded);
  EXPECT_EQ(t.output.substr(t.output.find("s OK [READ-WRITE]")),
            "s OK [READ-WRITE] SELECT completed\r\n"
            "* 1 FETCH (UID 10 BINARY[2] NIL)\r\n* 2 FETCH (UID 11 BINARY[2] NIL FLAGS (\\Seen))\r\n"
            "* 3 FETCH (UID 15 BINARY[2] NIL FLAGS (\\Flagged \\Seen))\r\n"
            "a NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding\r\n"
            "* 4 FETCH (BINARY[1] ~{5}\r\nplain BODY[2] {11}\r\nbegin 644 x FLAGS (\\Seen))\r\n"
            "b OK FETCH completed\r\n"
            "* 4 FETCH (FLAGS (\\Seen))\r\nc OK FETCH completed\r\n"
            "d BAD Syntax: BINARY[part]\r\ne BAD Syntax: FETCH sequence-set items\r\nf BAD Syntax: BINARY[part]\r\n");
}

TEST(ImapServer, AppendTakesALiteral8) {
  const Transcript t = run(std::string(login) + "a APPEND INBOX ~{3+}\r\nx" + std::string(1, '\0') + "y\r\n");
  EXPECT_EQ(t.output, with_greeting("a OK Logged in\r\na OK [APPENDUID 7 40] APPEND completed\r\n"));
  EXPECT_EQ(t.calls.back(), "append_end keep x" + std::string(1, '\0') + "y");
}

TEST(ImapServer, UnreadableMessageEndsTheSession) {
  const Transcript t = run(after_select("f FETCH 1 BODY.PEEK[]\r\nn NOOP\r\n"), tls_settings(),
                           [](FakeStore& store) { store.unreadable_at = 30; });
  EXPECT_TRUE(t.output.ends_with("* 1 FETCH (BODY[] {" + std::to_string(first_message.size()) +
                                 "}\r\n\r\n* BYE Message unreadable, try again later\r\n"));
  EXPECT_EQ(t.calls.back(), "release");
}

TEST(ImapServer, StoreFlags) {
  const Transcript t = run(after_select("a STORE 1:2 +FLAGS (\\Deleted \\Flagged)\r\nb UID STORE 10 -FLAGS.SILENT \\Seen\r\n"
                                        "c STORE 3 FLAGS ($Junk \\Answered)\r\nd STORE 1 FLAGS (\\Recent)\r\n"
                                        "e STORE 1 +FLAGS (\\Seen\r\nf FETCH 1:* FLAGS\r\n"));
  EXPECT_EQ(t.output, selected_then("* 1 FETCH (FLAGS (\\Flagged \\Deleted \\Seen))\r\n* 2 FETCH (FLAGS (\\Flagged \\Deleted))\r\n"
                                    "a OK STORE completed\r\nb OK UID STORE completed\r\n"
                                    "* 3 FETCH (FLAGS (\\Answered))\r\nc OK STORE completed\r\n"
                                    "d BAD Unknown system flag\r\ne BAD Syntax: (flags)\r\n"
                                    "* 1 FETCH (FLAGS (\\Flagged \\Deleted))\r\n* 2 FETCH (FLAGS (\\Flagged \\Deleted))\r\n"
                                    "* 3 FETCH (FLAGS (\\Answered))\r\nf OK FETCH completed\r\n"));
}

TEST(ImapServer, Search) {
  const Transcript t = run(after_select(
      "a SEARCH ALL\r\nb SEARCH UNSEEN\r\nc UID SEARCH NOT SEEN\r\nd SEARCH OR FLAGGED 1\r\ne SEARCH LARGER 40 SMALLER 90\r\n"
      "f SEARCH SINCE 7-Dec-2025\r\ng SEARCH BEFORE 7-Dec-2025\r\nh SEARCH ON 8-dec-2025\r\ni SEARCH UID 11:*\r\n"
      "j SEARCH (SEEN) 2:3\r\nk SEARCH CHARSET UTF-8 ALL\r\nl SEARCH SUBJECT one\r\nm SEARCH FROB\r\nn SEARCH 1:x\r\n"
      "o SEARCH NEW\r\np SEARCH CHARSET KOI8-R ALL\r\n"));
  EXPECT_EQ(t.output, selected_then(
                          "* SEARCH 1 2 3\r\na OK SEARCH completed\r\n* SEARCH 2 3\r\nb OK SEARCH completed\r\n"
                          "* SEARCH 11 15\r\nc OK UID SEARCH completed\r\n* SEARCH 1 3\r\nd OK SEARCH completed\r\n"
                          "* SEARCH 2\r\ne OK SEARCH completed\r\n* SEARCH 2 3\r\nf OK SEARCH completed\r\n"
                          "* SEARCH 1\r\ng OK SEARCH completed\r\n* SEARCH 3\r\nh OK SEARCH completed\r\n"
                          "* SEARCH 2 3\r\ni OK SEARCH completed\r\n* SEARCH\r\nj OK SEARCH completed\r\n"
                          "* SEARCH 1 2 3\r\nk OK SEARCH completed\r\n"
                          "* SEARCH 1\r\nl OK SEARCH completed\r\nm BAD Syntax: SEARCH keys\r\n"
                          "n BAD Syntax: SEARCH keys\r\n* SEARCH\r\no OK SEARCH completed\r\n"
                          "p NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n"));
}

TEST(ImapServer, SearchText) {
  const Transcript t = run(after_select(
      "a SEARCH FROM ann\r\nb SEARCH TO CAROL\r\nc SEARCH SUBJECT \"t\"\r\nd SEARCH HEADER X-Long \"\"\r\n"
      "e SEARCH BODY line2\r\nf SEARCH BODY subject\r\ng SEARCH TEXT subject\r\nh SEARCH HEADER {4}\r\nfrom {3}\r\nANN\r\n"
      "i SEARCH NOT BODY .\r\nj SEARCH SUBJECT subject\r\nk SEARCH TO \"bob@example.org, carol\"\r\n"
      "m SEARCH BODY\r\n"));
  EXPECT_EQ(t.output, selected_then(
                          "* SEARCH 1\r\na OK SEARCH completed\r\n* SEARCH 1\r\nb OK SEARCH completed\r\n"
                          "* SEARCH 2 3\r\nc OK SEARCH completed\r\n* SEARCH 2\r\nd OK SEARCH completed\r\n"
                          "* SEARCH 2\r\ne OK SEARCH completed\r\n* SEARCH\r\nf OK SEARCH completed\r\n"
                          "* SEARCH 1 2 3\r\ng OK SEARCH completed\r\n+ Ready for literal data\r\n+ Ready for literal data\r\n"
                          "* SEARCH 1\r\nh OK SEARCH completed\r\n* SEARCH 1 2\r\ni OK SEARCH completed\r\n"
                          "* SEARCH\r\nj OK SEARCH completed\r\n* SEARCH 1\r\nk OK SEARCH completed\r\n"
                          "m BAD Syntax: SEARCH keys\r\n"));
}

// The first message says it was sent on 5 Dec 2025 (it arrived on the 6th),
// the second has a Date: that cannot be read, the third none: those two are
// compared by the day they arrived (7 and 8 Dec 2025).
TEST(ImapServer, SearchSentDates) {
  const Transcript t = run(after_select("a SEARCH SENTON 5-Dec-2025\r\nb SEARCH SENTBEFORE 7-Dec-2025\r\n"
                                        "c SEARCH SENTSINCE 8-Dec-2025\r\nd SEARCH ON 5-Dec-2025\r\n"
                                        "e SEARCH SENTON 7-Dec-2025 SENTBEFORE 8-Dec-2025\r\nf SEARCH SENTON\r\n"),
                           tls_settings(), [](FakeStore& store) {
                             store.inbox.at(0).bytes = "Date: Fri, 5 Dec 2025 23:30:00 -0800\r\n" + first_message;
                             store.inbox.at(1).bytes = "Date: soon\r\n" + second_message;
                           });
  EXPECT_EQ(t.output, selected_then("* SEARCH 1\r\na OK SEARCH completed\r\n* SEARCH 1\r\nb OK SEARCH completed\r\n"
                                    "* SEARCH 3\r\nc OK SEARCH completed\r\n* SEARCH\r\nd OK SEARCH completed\r\n"
                                    "* SEARCH 2\r\ne OK SEARCH completed\r\nf BAD Syntax: SEARCH keys\r\n"));
}

TEST(ImapServer, SearchReturnAnswersWithEsearch) {
  const Transcript t = run(after_select(
      "a SEARCH RETURN (MIN MAX COUNT) ALL\r\nb UID SEARCH RETURN () ALL\r\nc SEARCH RETURN (ALL COUNT) 1,3\r\n"
      "d SEARCH RETURN (MIN MAX ALL COUNT) SEEN UNSEEN\r\ne SEARCH RETURN (MIN FROB) ALL\r\nf SEARCH RETURN ALL\r\n"
      "g UID SEARCH RETURN (count) CHARSET UTF-8 NOT SEEN\r\nh SEARCH RETURN (MIN) FROB\r\n"));
  EXPECT_EQ(t.output, selected_then(
                          "* ESEARCH (TAG \"a\") MIN 1 MAX 3 COUNT 3\r\na OK SEARCH completed\r\n"
                          "* ESEARCH (TAG \"b\") UID ALL 10:11,15\r\nb OK UID SEARCH completed\r\n"
                          "* ESEARCH (TAG \"c\") ALL 1,3 COUNT 2\r\nc OK SEARCH completed\r\n"
                          "* ESEARCH (TAG \"d\") COUNT 0\r\nd OK SEARCH completed\r\n"
                          "e BAD SEARCH RETURN options are MIN, MAX, ALL, COUNT and SAVE\r\n"
                          "f BAD Syntax: SEARCH RETURN (options) keys\r\n"
                          "* ESEARCH (TAG \"g\") UID COUNT 2\r\ng OK UID SEARCH completed\r\n"
                          "h BAD Syntax: SEARCH keys\r\n"));
}

TEST(ImapServer, AppendStreamsTheLiteralToTheStore) {
  const Transcript t = run(std::string(login) +
                           "a APPEND INBOX (\\Seen \\Draft) \"07-Dec-2026 10:00:00 +0000\" {12}\r\nSubject: x\r\n\r\n"
                           "b APPEND INBOX {3+}\r\nabc\r\nc APPEND Sent {2}\r\nd APPEND INBOX {200}\r\n"
                           "e APPEND INBOX {200+}\r\n" + std::string(200, 'x') + "\r\nf APPEND Nowhere {1+}\r\nx\r\n"
                           "g APPEND INBOX (\\Recent) {1}\r\nh APPEND INBOX {4+}\r\nFAIL\r\ni APPEND INBOX {1+}\r\nx extra\r\n"
                           "s SELECT INBOX\r\n");
  EXPECT_EQ(t.output.substr(0, t.output.find("* FLAGS")),
            with_greeting("a OK Logged in\r\n+ Ready for literal data\r\na OK [APPENDUID 7 40] APPEND completed\r\n"
                          "b OK [APPENDUID 7 40] APPEND completed\r\nc NO [CANNOT] Only INBOX keeps messages\r\n"
                          "d NO [TOOBIG] Message too big\r\ne NO [TOOBIG] Message too big\r\n"
                          "f NO [TRYCREATE] No such mailbox\r\ng BAD Invalid flag list\r\n"
                          "h NO [UNAVAILABLE] Message not kept\r\ni BAD Syntax: APPEND ends after its literal\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "append_begin 0 12 17", "append_end keep Subject: x\r\n",
                            "append_begin 0 3 0", "append_end keep abc", "append_begin 1 2 0", "append_begin 0 200 0",
                            "append_begin 0 200 0", "append_begin 0 4 0", "append_end drop FAIL", "append_begin 0 1 0",
                            "append_end drop x", "select INBOX"}));
}

TEST(ImapServer, UidExpungeRemovesOnlyTheNamedUids) {
  const Transcript t = run(after_select("a STORE 1:3 +FLAGS.SILENT (\\Deleted)\r\nb UID EXPUNGE 11:15\r\nc UID EXPUNGE x\r\n"));
  EXPECT_EQ(t.output, selected_then("a OK STORE completed\r\n* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nb OK EXPUNGE completed\r\n"
                                    "c BAD Syntax: UID EXPUNGE uid-set\r\n"));
}

TEST(ImapServer, ExpungeAndCloseCommitBeforeTheirOk) {
  const Transcript t = run(after_select("a STORE 1,3 +FLAGS.SILENT (\\Deleted)\r\nb EXPUNGE\r\nc FETCH 1 UID\r\n"
                                        "d STORE 1 +FLAGS.SILENT (\\Deleted)\r\ne CLOSE\r\nf FETCH 1 UID\r\n"));
  EXPECT_EQ(t.output, selected_then("a OK STORE completed\r\n* 1 EXPUNGE\r\n* 2 EXPUNGE\r\nb OK EXPUNGE completed\r\n"
                                    "* 1 FETCH (UID 11)\r\nc OK FETCH completed\r\nd OK STORE completed\r\n"
                                    "e OK CLOSE completed\r\n"
                                    "f BAD Command not valid in this state or arguments invalid\r\n"));
  // Each STORE commits its flags too, before its OK.
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "commit", "expunge uid 10", "expunge uid 15",
                            "commit", "commit", "expunge uid 11", "commit", "unselect"}));
}

// STORE, and a FETCH that sets \Seen, answer once the store has made the
// flags durable (commit()); one that changes nothing does not wait, and a
// refused commit answers the command.
TEST(ImapServer, FlagChangesAreDurableBeforeTheirOk) {
  const Transcript t = run(after_select("a STORE 1 +FLAGS (\\Seen)\r\nb FETCH 2 BODY[HEADER]\r\nc FETCH 2 BODY[HEADER]\r\n"
                                        "d UID STORE 15 -FLAGS.SILENT (\\Flagged)\r\n"));
  // Message 1 is \\Seen already: a's STORE changes nothing; b sets \\Seen, c finds it set.
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "commit", "commit"}));
  EXPECT_NE(t.output.find("a OK STORE completed"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("d OK UID STORE completed"), std::string::npos) << t.output;
  const Transcript refused = run(after_select("a STORE 1 +FLAGS.SILENT (\\Answered)\r\nb NOOP\r\n"), tls_settings(),
                                 [](FakeStore& store) {
                                   store.commit_answer = ImapDecision::rejected("UNAVAILABLE", "Flags not kept");
                                 });
  EXPECT_EQ(refused.output, selected_then("a NO [UNAVAILABLE] Flags not kept\r\nb OK NOOP completed\r\n"));
}

// Flags another session stored come as unsolicited FETCH at NOOP and in
// IDLE, after the expunges and new mail (RFC 9051 §7.5.2).
TEST(ImapServer, NoopAndIdleAnnounceFlagsOthersStored) {
  const auto others_store = [](FakeStore& store) {
    store.vanishing = {0};
    store.flag_changes = {{1, imap_seen | imap_flagged}};
  };
  EXPECT_EQ(run(after_select("n NOOP\r\n"), tls_settings(), others_store).output,
            selected_then("* 1 EXPUNGE\r\n* 2 FETCH (FLAGS (\\Flagged \\Seen))\r\nn OK NOOP completed\r\n"));
  const Transcript idle = same_result_for_every_split([](const SplitPlan& plan) {
    Session session(tls_settings());
    session.send(after_select("i IDLE\r\n"), plan);
    session.store.flag_changes = {{0, imap_deleted}};
    session.server().store_changed();
    session.send("DONE\r\n", plan);
    return session.transcript();
  });
  EXPECT_EQ(idle.output, selected_then("+ idling\r\n* 1 FETCH (FLAGS (\\Deleted))\r\ni OK IDLE terminated\r\n"));
}

TEST(ImapServer, ExpungeThatTheStoreRefusesKeepsTheMessageAndSaysWhy) {
  const Transcript t = run(after_select("a STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\nb EXPUNGE\r\nc FETCH 1:* UID\r\n"),
                           tls_settings(), [](FakeStore& store) { store.locked_uid = 10; });
  EXPECT_EQ(t.output, selected_then("a OK STORE completed\r\n* 2 EXPUNGE\r\nb NO [INUSE] Mailbox in use by POP3\r\n"
                                    "* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 15)\r\nc OK FETCH completed\r\n"));
}

TEST(ImapServer, ReadOnlyMailboxRefusesChanges) {
  const Transcript t = run(std::string(login) + "e EXAMINE INBOX\r\na STORE 1 +FLAGS (\\Deleted)\r\nb EXPUNGE\r\nc CLOSE\r\n");
  EXPECT_TRUE(t.output.ends_with("a NO [READ-ONLY] Mailbox is read-only\r\nb NO [READ-ONLY] Mailbox is read-only\r\n"
                                 "c OK UNSELECT completed\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "unselect"}));
}

TEST(ImapServer, NoopAndIdleAnnounceOthersChanges) {
  const auto others_change = [](FakeStore& store) {
    store.vanishing = {1};
    store.arriving = {{"Subject: new\r\n\r\nx\r\n", 20, 0, 0}};
  };
  EXPECT_EQ(run(after_select("n NOOP\r\n"), tls_settings(), others_change).output,
            selected_then("* 2 EXPUNGE\r\n* 3 EXISTS\r\nn OK NOOP completed\r\n"));

  const Transcript idle = same_result_for_every_split([](const SplitPlan& plan) {
    Session session(tls_settings());
    session.send(after_select("i IDLE\r\n"), plan);
    EXPECT_TRUE(session.server().idling());
    session.store.arriving = {{"Subject: new\r\n\r\nx\r\n", 20, 0, 0}};
    session.server().store_changed();
    session.send("DONE\r\nj IDLE\r\nnope\r\n", plan);
    return session.transcript();
  });
  EXPECT_EQ(idle.output, selected_then("+ idling\r\n* 4 EXISTS\r\ni OK IDLE terminated\r\n+ idling\r\nj BAD Expected DONE\r\n"));
}

// A message another session removed keeps its number until NOOP announces
// the EXPUNGE; meanwhile FETCH and STORE pass it by and say so (RFC 2180
// §4.1.3), and SEARCH does not find it.
TEST(ImapServer, AMessageExpungedElsewhereIsPassedByUntilAnnounced) {
  const Transcript t = run(after_select("f FETCH 1:3 (UID FLAGS)\r\nu UID FETCH 11 BODY.PEEK[]\r\n"
                                        "s STORE 2:3 +FLAGS.SILENT (\\Answered)\r\nr SEARCH ALL\r\n"
                                        "g FETCH 1 UID\r\nn NOOP\r\nh FETCH 1:* (UID FLAGS)\r\n"),
                           tls_settings(), [](FakeStore& store) { store.vanishing = {1}; });
  const std::string expunge_issued = " NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n";
  EXPECT_EQ(t.output, selected_then("* 1 FETCH (UID 10 FLAGS (\\Seen))\r\n* 3 FETCH (UID 15 FLAGS (\\Flagged))\r\nf" + expunge_issued +
                                    "u" + expunge_issued + "s" + expunge_issued +
                                    "* SEARCH 1 3\r\nr OK SEARCH completed\r\n"
                                    "* 1 FETCH (UID 10)\r\ng OK FETCH completed\r\n"
                                    "* 2 EXPUNGE\r\nn OK NOOP completed\r\n"
                                    "* 1 FETCH (UID 10 FLAGS (\\Seen))\r\n* 2 FETCH (UID 15 FLAGS (\\Answered \\Flagged))\r\n"
                                    "h OK FETCH completed\r\n"));
}

// Both sessions set \Deleted and the other expunged first: this session's
// EXPUNGE removes the rest and leaves that one to its announcement.
TEST(ImapServer, ExpungePassesByAMessageExpungedElsewhere) {
  const Transcript t = run(after_select("a STORE 1,3 +FLAGS.SILENT (\\Deleted)\r\nb EXPUNGE\r\nn NOOP\r\n"), tls_settings(),
                           [](FakeStore& store) {
                             store.inbox[1].flags |= imap_deleted;
                             store.vanishing = {1};
                           });
  EXPECT_EQ(t.output, selected_then("a OK STORE completed\r\n* 1 EXPUNGE\r\n* 2 EXPUNGE\r\nb OK EXPUNGE completed\r\n"
                                    "* 1 EXPUNGE\r\nn OK NOOP completed\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "commit", "expunge uid 10", "expunge uid 15", "commit"}));
}

TEST(ImapServer, AbortAfterLoginReleasesTheStore) {
  Session session(tls_settings());
  session.send(after_select(""), SplitPlan::whole());
  session.server().abort_session("Autologout; idle for too long");
  const Transcript t = session.transcript();
  EXPECT_TRUE(session.server().finished());
  EXPECT_TRUE(t.output.ends_with("* BYE Autologout; idle for too long\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "unselect", "release"}));
}

// A message far bigger than the output buffer, read back a few bytes at a
// time, in every section form.
TEST(ImapServer, StreamsABigMessageThroughAFullOutputBuffer) {
  std::string big = "Subject: big\r\nX-Filler: " + std::string(300, 'f') + "\r\n\r\n";
  for (int line = 0; line < 800; ++line) big += std::to_string(line) + " text\r\n";
  const std::string input = after_select("f FETCH 4 (BODY.PEEK[] BODY.PEEK[TEXT]<100.5000> BODY.PEEK[HEADER.FIELDS.NOT (Subject)])\r\n");
  const std::string body = big.substr(big.find("\r\n\r\n") + 4);
  const std::string expected = selected_then("* 4 FETCH (BODY[] " + literal(big) + " BODY[TEXT]<100> " +
                                             literal(body.substr(100, 5000)) + " BODY[HEADER.FIELDS.NOT (Subject)] " +
                                             literal("X-Filler: " + std::string(300, 'f') + "\r\n\r\n") +
                                             ")\r\nf OK FETCH completed\r\n");
  for (const std::size_t read_step : {0u, 1u, 7u, 333u}) {
    SCOPED_TRACE(read_step);
    const Transcript t = same_result_for_every_split(
        [&](const SplitPlan& plan) {
          Session session(tls_settings(), read_step);
          session.store.inbox.push_back({big, 30, 0, 0});
          session.send(input, plan);
          return session.transcript();
        },
        3);
    // SELECT said 3 EXISTS before the fourth was added: only the count differs.
    std::string wanted = expected;
    wanted.replace(wanted.find("* 3 EXISTS"), 10, "* 4 EXISTS");
    EXPECT_EQ(t.output, wanted);
  }
}

// COPY's UID sets take the room of FETCH's MIME structure: a FETCH after a
// COPY finds the structure again.
TEST(ImapServer, FetchAfterCopyParsesTheStructureAgain) {
  const Transcript t = run(after_select("a FETCH 4 (BODYSTRUCTURE BODY.PEEK[3])\r\nc COPY 4 Sent\r\n"
                                        "b FETCH 4 (BODYSTRUCTURE BODY.PEEK[3])\r\n"),
                           tls_settings(), with_mime_message);
  const std::size_t first = t.output.find("* 4 FETCH");
  const std::size_t done = t.output.find("a OK FETCH completed\r\n");
  const std::string fetched = t.output.substr(first, done - first);
  EXPECT_NE(fetched.find("BODY[3] {8}\r\nAAECAw=="), std::string::npos);
  EXPECT_EQ(t.output.substr(done), "a OK FETCH completed\r\nc OK [COPYUID 7 20 100] COPY completed\r\n" + fetched +
                                       "b OK FETCH completed\r\n");
}

// ---------------------------------------------------------------- IMAP4rev2

constexpr std::string_view enable_rev2 = "e ENABLE IMAP4rev2\r\n";

// After ENABLE IMAP4rev2 (RFC 9051 §6.3.1): SELECT says the mailbox's LIST
// instead of RECENT and UNSEEN, a SELECT that leaves a mailbox says CLOSED,
// and every SEARCH answers with ESEARCH.
TEST(ImapServer, EnableImap4rev2ChangesTheResponses) {
  const Transcript t = run(std::string(login) + std::string(enable_rev2) +
                           "f ENABLE IMAP4rev2 CONDSTORE\r\ns SELECT INBOX\r\nt EXAMINE Sent\r\nu SELECT INBOX\r\n"
                           "a SEARCH UNSEEN\r\nb UID SEARCH CHARSET UTF-8 ALL\r\nc SEARCH RETURN (COUNT) ALL\r\n"
                           "d SEARCH DELETED\r\ng ENABLE\r\n");
  const std::string inbox = "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                            "* OK [PERMANENTFLAGS (\\Deleted)] Flags kept beyond this session\r\n* 3 EXISTS\r\n"
                            "* LIST (\\HasNoChildren) \"/\" INBOX\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n"
                            "* OK [UIDNEXT 16] Predicted next UID\r\n";
  EXPECT_EQ(t.output, with_greeting("a OK Logged in\r\n* ENABLED IMAP4rev2\r\ne OK ENABLE completed\r\n"
                                    "* ENABLED\r\nf OK ENABLE completed\r\n" + inbox + "s OK [READ-WRITE] SELECT completed\r\n"
                                    "* OK [CLOSED] Previous mailbox closed\r\n"
                                    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                                    "* OK [PERMANENTFLAGS ()] Flags kept beyond this session\r\n* 0 EXISTS\r\n"
                                    "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n"
                                    "* OK [UIDNEXT 16] Predicted next UID\r\nt OK [READ-ONLY] EXAMINE completed\r\n"
                                    "* OK [CLOSED] Previous mailbox closed\r\n" + inbox +
                                    "u OK [READ-WRITE] SELECT completed\r\n"
                                    "* ESEARCH (TAG \"a\") ALL 2:3\r\na OK SEARCH completed\r\n"
                                    "* ESEARCH (TAG \"b\") UID ALL 10:11,15\r\nb OK UID SEARCH completed\r\n"
                                    "* ESEARCH (TAG \"c\") COUNT 3\r\nc OK SEARCH completed\r\n"
                                    "* ESEARCH (TAG \"d\")\r\nd OK SEARCH completed\r\n"
                                    "g BAD Command not valid in this state or arguments invalid\r\n"));
}

// SEARCH RETURN (SAVE) and "$" (RFC 5182): "$" names the saved messages in
// every command that takes a set, keeps naming them as others are expunged,
// and is empty before any SAVE and after a SELECT.
TEST(ImapServer, SearchResSavesAResultForDollar) {
  const Transcript t = run(after_select(
      "a FETCH $ UID\r\nb SEARCH RETURN (SAVE) UNSEEN\r\nc FETCH $ UID\r\nd UID FETCH $ FLAGS\r\n"
      "e STORE $ +FLAGS.SILENT (\\Deleted)\r\nf SEARCH $\r\ng UID SEARCH UID $ NOT 2\r\nh UID COPY $ Sent\r\n"
      "i SEARCH RETURN (SAVE MIN) NOT $\r\nj SEARCH RETURN (ALL) $\r\nk SEARCH RETURN (SAVE COUNT) OR $ 3\r\n"
      "l UID EXPUNGE $\r\nm FETCH $ UID\r\nn SEARCH RETURN (SAVE) FROB\r\no FETCH $ UID\r\n"
      "p SEARCH RETURN (SAVE MIN MAX) ALL\r\nq SEARCH $\r\nr SELECT INBOX\r\nt SEARCH $\r\n"));
  EXPECT_EQ(t.output.substr(0, t.output.find("* FLAGS", selected_then("").size())),
            selected_then("a OK FETCH completed\r\nb OK SEARCH completed\r\n"
                          "* 2 FETCH (UID 11)\r\n* 3 FETCH (UID 15)\r\nc OK FETCH completed\r\n"
                          "* 2 FETCH (UID 11 FLAGS ())\r\n* 3 FETCH (UID 15 FLAGS (\\Flagged))\r\nd OK UID FETCH completed\r\n"
                          "e OK STORE completed\r\n* SEARCH 2 3\r\nf OK SEARCH completed\r\n"
                          "* SEARCH 15\r\ng OK UID SEARCH completed\r\n"
                          "h OK [COPYUID 7 11,15 100:101] UID COPY completed\r\n"
                          // Only message 1 is not in "$": it alone is saved now.
                          "* ESEARCH (TAG \"i\") MIN 1\r\ni OK SEARCH completed\r\n"
                          "* ESEARCH (TAG \"j\") ALL 1\r\nj OK SEARCH completed\r\n"
                          // The program's "$" is the one before this SEARCH saves.
                          "* ESEARCH (TAG \"k\") COUNT 2\r\nk OK SEARCH completed\r\n"
                          // Of "$" (1 and 3) only 3 has \\Deleted; then "$" is 1 alone.
                          "* 3 EXPUNGE\r\nl OK EXPUNGE completed\r\n* 1 FETCH (UID 10)\r\nm OK FETCH completed\r\n"
                          "n BAD Syntax: SEARCH keys\r\no OK FETCH completed\r\n"
                          "* ESEARCH (TAG \"p\") MIN 1 MAX 2\r\np OK SEARCH completed\r\n"
                          "* SEARCH 1 2\r\nq OK SEARCH completed\r\n"));
  EXPECT_TRUE(t.output.ends_with("r OK [READ-WRITE] SELECT completed\r\n* SEARCH\r\nt OK SEARCH completed\r\n"));
}

// 100 messages, UIDs 100 to 199, every other one \Seen from the first.
void every_other_seen(FakeStore& store) {
  store.inbox.clear();
  for (std::uint32_t i = 0; i < 100; ++i) {
    store.inbox.push_back({"x", 100 + i, static_cast<ImapFlags>(i % 2 == 0 ? imap_seen : 0), 0});
  }
}

// A FETCH or SEARCH works through at most messages_per_pump messages in one
// pump() and says it yielded, so that the loop serves the other sessions
// between its slices; the response is whole.
TEST(ImapServer, FetchAndSearchWorkThroughTheMailboxInSlices) {
  std::string uids;
  for (std::uint32_t i = 0; i < 100; ++i) uids += "* " + std::to_string(i + 1) + " FETCH (UID " + std::to_string(100 + i) + ")\r\n";
  std::string seen;
  std::string unseen;
  for (std::uint32_t i = 1; i <= 100; ++i) (i % 2 == 1 ? seen : unseen) += " " + std::to_string(i);
  const std::array<std::pair<std::string_view, std::string>, 3> cases{{
      {"FETCH 1:* (UID)", uids + "f OK FETCH completed\r\n"},
      {"SEARCH SEEN", "* SEARCH" + seen + "\r\nf OK SEARCH completed\r\n"},  // 50 matches
      {"SEARCH UNSEEN", "* SEARCH" + unseen + "\r\nf OK SEARCH completed\r\n"},
  }};
  for (const auto& [command, response] : cases) {
    Session session(tls_settings());
    every_other_seen(session.store);
    const std::string commands = std::string(login) + std::string(select_inbox) + "f " + std::string(command) + "\r\n";
    ImapServer& server = session.server();
    std::span<const std::uint8_t> input(reinterpret_cast<const std::uint8_t*>(commands.data()), commands.size());
    std::string output;
    const auto read_all = [&] {
      output.append(testing::text_of(session.output().pending()));
      session.output().consume(session.output().size());
    };
    while (!input.empty()) {
      input = input.subspan(server.feed(input));
      if (server.awaiting_decision()) server.resume(ImapDecision::accepted());
      read_all();
    }
    std::size_t slices = 0;
    while (server.streaming()) {
      server.pump();
      read_all();
      ++slices;
      EXPECT_EQ(server.yielded(), server.streaming());
    }
    EXPECT_EQ(slices, (100 + ImapServer::messages_per_pump - 1) / ImapServer::messages_per_pump) << command;
    EXPECT_TRUE(output.ends_with(response)) << output;
  }
}

// "$" keeps runs of neighbouring messages, 32 at most: a result more
// scattered than that is not saved, and the SEARCH says so.
TEST(ImapServer, SearchResRefusesAResultTooScatteredToKeep) {
  const Transcript t = run(std::string(login) + "s SELECT INBOX\r\na SEARCH RETURN (SAVE) SEEN\r\nb FETCH $ UID\r\n"
                           "c SEARCH RETURN (SAVE) 1:64 SEEN\r\nd SEARCH RETURN (SAVE COUNT) SEEN\r\ne UID FETCH $ UID\r\n",
                           tls_settings(), every_other_seen);
  std::string uids;
  for (std::uint32_t i = 0; i < 64; i += 2) {
    uids += "* " + std::to_string(i + 1) + " FETCH (UID " + std::to_string(100 + i) + ")\r\n";
  }
  EXPECT_TRUE(t.output.ends_with("a NO [LIMIT] The result is too scattered to save: $ is empty\r\nb OK FETCH completed\r\n"
                                 "c OK SEARCH completed\r\n* ESEARCH (TAG \"d\") COUNT 50\r\n"
                                 "d NO [LIMIT] The result is too scattered to save: $ is empty\r\n"
                                 "e OK UID FETCH completed\r\n"));
  const Transcript kept = run(std::string(login) + "s SELECT INBOX\r\nc SEARCH RETURN (SAVE) 1:64 SEEN\r\nf FETCH $ UID\r\n",
                              tls_settings(), every_other_seen);
  EXPECT_TRUE(kept.output.ends_with("c OK SEARCH completed\r\n" + uids + "f OK FETCH completed\r\n"));
}

// LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819): every mailbox is
// subscribed and has no children; STATUS follows each LIST it was asked for.
TEST(ImapServer, ListExtendedAndListStatus) {
  const Transcript t = run(std::string(login) +
                           "a LIST (SUBSCRIBED) \"\" *\r\nb LIST (REMOTE SPECIAL-USE) \"\" (INBOX \"Tr*\" J%)\r\n"
                           "c LIST \"\" (INBOX Sent) RETURN (CHILDREN STATUS (MESSAGES DELETED UIDVALIDITY) SUBSCRIBED)\r\n"
                           "d LIST (RECURSIVEMATCH) \"\" *\r\ne LIST (SUBSCRIBED RECURSIVEMATCH) \"\" Junk\r\n"
                           "f LIST (FROB) \"\" *\r\ng LIST \"\" * RETURN (STATUS (BOGUS))\r\nh LIST \"\" * RETURN (FROB)\r\n"
                           "i LIST \"\" (INBOX\r\nj LIST \"\" (INBOX \"\") RETURN ()\r\nk STATUS INBOX (DELETED UNSEEN)\r\n"
                           "l LIST \"\" * RETURN (STATUS)\r\n",
                           tls_settings(), [](FakeStore& store) { store.inbox[0].flags |= imap_deleted; });
  EXPECT_EQ(t.output,
            with_greeting("a OK Logged in\r\n* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX\r\n"
                          "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" Sent\r\n"
                          "* LIST (\\HasNoChildren \\Subscribed \\Drafts) \"/\" Drafts\r\n"
                          "* LIST (\\HasNoChildren \\Subscribed \\Trash) \"/\" Trash\r\n"
                          "* LIST (\\HasNoChildren \\Subscribed \\Junk) \"/\" Junk\r\na OK LIST completed\r\n"
                          "* LIST (\\HasNoChildren \\Trash) \"/\" Trash\r\n* LIST (\\HasNoChildren \\Junk) \"/\" Junk\r\n"
                          "b OK LIST completed\r\n"
                          "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX\r\n"
                          "* STATUS INBOX (MESSAGES 3 DELETED 1 UIDVALIDITY 7)\r\n"
                          "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" Sent\r\n"
                          "* STATUS Sent (MESSAGES 0 DELETED 0 UIDVALIDITY 7)\r\nc OK LIST completed\r\n"
                          "d BAD RECURSIVEMATCH needs another selection option\r\n"
                          "* LIST (\\HasNoChildren \\Subscribed \\Junk) \"/\" Junk\r\ne OK LIST completed\r\n"
                          "f BAD Unsupported LIST selection option\r\ng BAD Unknown STATUS item\r\n"
                          "h BAD Unsupported LIST return option\r\ni BAD Syntax: LIST reference (patterns)\r\n"
                          "* LIST (\\HasNoChildren) \"/\" INBOX\r\nj OK LIST completed\r\n"
                          "* STATUS INBOX (DELETED 1 UNSEEN 2)\r\nk OK STATUS completed\r\n"
                          "l BAD Unsupported LIST return option\r\n"));
}

// Bad input to the rev2 commands: BAD or NO with the reason, and the session
// goes on; "$" is a whole set or nothing (RFC 5182 §2.2).
TEST(ImapServer, Imap4rev2BadInputIsRefused) {
  const Transcript t = run(after_select("a FETCH $,1 UID\r\nb COPY $ Nowhere\r\nc MOVE $\r\nd ENABLE IMAP4rev2  X\r\n"
                                        "e STORE $1 +FLAGS (\\Seen)\r\nf UID EXPUNGE $:3\r\ng SEARCH RETURN (SAVE ALL) $ FROB\r\n"
                                        "h SEARCH UID $x\r\ni ENABLE\r\nj LIST \"\" () RETURN (STATUS (MESSAGES))\r\n"
                                        "k STATUS INBOX (MESSAGES DELETED\r\nz NOOP\r\n"));
  EXPECT_EQ(t.output, selected_then("a BAD Invalid sequence set\r\nb NO [TRYCREATE] No such mailbox\r\n"
                                    "c BAD Syntax: MOVE sequence-set mailbox\r\nd BAD Syntax: ENABLE capabilities\r\n"
                                    "e BAD Invalid sequence set\r\nf BAD Syntax: UID EXPUNGE uid-set\r\n"
                                    "g BAD Syntax: SEARCH keys\r\nh BAD Syntax: SEARCH keys\r\n"
                                    "i BAD Command not valid in this state or arguments invalid\r\n"
                                    "j BAD Syntax: LIST reference pattern\r\nk BAD Syntax: STATUS mailbox (items)\r\n"
                                    "z OK NOOP completed\r\n"));
}

// ---------------------------------------------------------------- COPY, MOVE

TEST(ImapServer, CopyAnswersWithCopyuid) {
  const Transcript t = same_result_for_every_split([](const SplitPlan& plan) {
    Session session(tls_settings());
    session.send(after_select("c COPY 1:2 Sent\r\nu UID COPY 15,10 \"Trash\"\r\nv UID COPY 99 Sent\r\n"
                              "i COPY 3 inbox\r\nn NOOP\r\n"),
                 plan);
    Transcript transcript = session.transcript();
    // The copies keep their flags and get the destination's UIDs.
    for (const auto& [mailbox, messages] : session.store.folder) {
      for (const FakeMessage& message : messages) {
        transcript.calls.push_back("in " + std::to_string(mailbox) + ": " + std::to_string(message.uid) + " flags " +
                                   std::to_string(message.flags) + " " + message.bytes.substr(0, 12));
      }
    }
    return transcript;
  });
  EXPECT_EQ(t.output, selected_then("c OK [COPYUID 7 10:11 100:101] COPY completed\r\n"
                                    "u OK [COPYUID 7 10,15 102:103] UID COPY completed\r\n"
                                    "v OK UID COPY completed\r\n"
                                    "i OK [COPYUID 7 15 104] COPY completed\r\n* 4 EXISTS\r\nn OK NOOP completed\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "copy_begin 1", "copy uid 10", "copy uid 11",
                            "copy_commit 2", "copy_begin 3", "copy uid 10", "copy uid 15", "copy_commit 2",
                            "copy_begin 0", "copy uid 15", "copy_commit 1",
                            "in 1: 100 flags 1 From: Ann <a", "in 1: 101 flags 0 Subject: two",
                            "in 3: 102 flags 1 From: Ann <a", "in 3: 103 flags 4 Subject: thr"}));
}

TEST(ImapServer, MoveSaysCopyuidThenExpungesTheSources) {
  const Transcript t = run(after_select("m MOVE 1,3 Trash\r\nf FETCH 1:* UID\r\nu UID MOVE 11:* Sent\r\nn NOOP\r\n"));
  EXPECT_EQ(t.output, selected_then("* OK [COPYUID 7 10,15 100:101] Moved\r\n* 1 EXPUNGE\r\n* 2 EXPUNGE\r\n"
                                    "m OK MOVE completed\r\n* 1 FETCH (UID 11)\r\nf OK FETCH completed\r\n"
                                    "* OK [COPYUID 7 11 102] Moved\r\n* 1 EXPUNGE\r\nu OK UID MOVE completed\r\n"
                                    "n OK NOOP completed\r\n"));
  // No \Deleted is set on the way (RFC 9051 §6.4.8): the sources are expunged as they are.
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "copy_begin 3 move", "copy uid 10", "copy uid 15",
                            "copy_commit 2", "expunge uid 10", "expunge uid 15", "commit", "copy_begin 1 move",
                            "copy uid 11", "copy_commit 1", "expunge uid 11", "commit"}));
}

TEST(ImapServer, CopyAndMoveRefusals) {
  const Transcript t = run(after_select("a COPY 1 Nowhere\r\nb COPY 4 Sent\r\nc COPY 1\r\nd MOVE x Sent\r\n"
                                        "e MOVE 1 Junk\r\nf COPY 1:3 Sent\r\ng MOVE 1:3 Sent\r\nh COPY 1 Sent extra\r\n"
                                        "i UID COPY 1:* {4}\r\nSent\r\nj COPY 2,1 Drafts\r\n"),
                           tls_settings(), [](FakeStore& store) { store.refused_copy_uid = 15; });
  // The UIDs the dropped copies took are not given again (RFC 9051 §6.4.7:
  // only UIDNEXT may show that a COPY failed).
  EXPECT_EQ(t.output, selected_then("a NO [TRYCREATE] No such mailbox\r\nb BAD Invalid sequence set\r\n"
                                    "c BAD Syntax: COPY sequence-set mailbox\r\nd BAD Invalid sequence set\r\n"
                                    "e NO [CANNOT] No copies here\r\nf NO [OVERQUOTA] Folder full\r\n"
                                    "g NO [OVERQUOTA] Folder full\r\nh BAD Syntax: COPY sequence-set mailbox\r\n"
                                    "+ Ready for literal data\r\ni NO [OVERQUOTA] Folder full\r\n"
                                    "j OK [COPYUID 7 10:11 106:107] COPY completed\r\n"));
  // A refused copy drops the transaction's others: nothing partial is kept.
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "copy_begin 4 move", "copy_begin 1", "copy uid 10",
                            "copy uid 11", "copy uid 15", "copy_discard", "copy_begin 1 move", "copy uid 10",
                            "copy uid 11", "copy uid 15", "copy_discard", "copy_begin 1", "copy uid 10", "copy uid 11",
                            "copy uid 15", "copy_discard", "copy_begin 2", "copy uid 10", "copy uid 11",
                            "copy_commit 2"}));

  // A MOVE from a read-only mailbox would expunge: refused; a COPY is not.
  const Transcript read_only = run(std::string(login) + "x EXAMINE INBOX\r\nk MOVE 1 Sent\r\nl COPY 1 Sent\r\n");
  EXPECT_TRUE(read_only.output.ends_with("x OK [READ-ONLY] EXAMINE completed\r\nk NO [READ-ONLY] Mailbox is read-only\r\n"
                                         "l OK [COPYUID 7 10 100] COPY completed\r\n"));
}

// A set that names a message removed elsewhere copies nothing (RFC 2180
// §4.4.1: a COPY is all or nothing, and that message has no content left).
TEST(ImapServer, CopyOfAMessageExpungedElsewhereFailsWhole) {
  const Transcript t = run(after_select("c COPY 1:3 Sent\r\nm UID MOVE 11 Sent\r\nd COPY 1 Sent\r\n"), tls_settings(),
                           [](FakeStore& store) { store.vanishing = {1}; });
  const std::string expunge_issued = " NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n";
  EXPECT_EQ(t.output, selected_then("c" + expunge_issued + "m" + expunge_issued +
                                    "d OK [COPYUID 7 10 100] COPY completed\r\n"));
  EXPECT_EQ(t.calls, (Calls{"login [] alice secret", "select INBOX", "copy_begin 1", "copy uid 10", "copy_commit 1"}));
}

// A MOVE whose source stays (POP3 took the lock meanwhile) says so: the
// message is then in both mailboxes, never in neither (RFC 9051 §6.4.8).
TEST(ImapServer, MoveWhoseSourceCannotBeRemovedSaysWhy) {
  const Transcript t = run(after_select("m MOVE 1:2 Sent\r\nf FETCH 1:* UID\r\n"), tls_settings(),
                           [](FakeStore& store) { store.locked_uid = 10; });
  EXPECT_EQ(t.output, selected_then("* OK [COPYUID 7 10:11 100:101] Moved\r\n* 2 EXPUNGE\r\n"
                                    "m NO [INUSE] Mailbox in use by POP3\r\n* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 15)\r\n"
                                    "f OK FETCH completed\r\n"));
}

// Hundreds of messages whose UIDs leave gaps: a MOVE goes in batches, each
// with a COPYUID that fits a line; a COPY is one transaction, and when its
// UID sets outgrow their bound it answers without COPYUID.
TEST(ImapServer, BigMoveGoesInBatchesAndBigCopyOmitsCopyuid) {
  const auto many = [](FakeStore& store) {
    store.inbox.clear();
    for (std::uint32_t i = 0; i < 300; ++i) store.inbox.push_back({"Subject: m\r\n\r\nx\r\n", 1000 + 2 * i, 0, 0});
  };
  const Transcript t = same_result_for_every_split(
      [&](const SplitPlan& plan) {
        Session session(tls_settings(), 97);
        many(session.store);
        session.send(std::string(login) + "s SELECT INBOX\r\nc COPY 1:* Sent\r\nm MOVE 2:300 Trash\r\nf FETCH 1:* UID\r\n",
                     plan);
        Transcript transcript = session.transcript();
        transcript.calls = {std::to_string(session.store.folder[1].size()), std::to_string(session.store.folder[3].size())};
        return transcript;
      },
      3);
  EXPECT_EQ(t.calls, (Calls{"300", "299"}));
  const std::string& out = t.output;
  EXPECT_NE(out.find("c OK COPY completed\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("m OK MOVE completed\r\n* 1 FETCH (UID 1000)\r\nf OK FETCH completed\r\n"));
  // Every source UID is in one COPYUID, paired in order with a destination
  // UID, and every line fits the reply reserve.
  std::vector<std::uint32_t> sources;
  std::uint32_t expunges = 0;
  std::uint32_t batches = 0;
  for (std::size_t at = out.find("c OK"); at < out.size();) {
    const std::size_t end = out.find("\r\n", at);
    const std::string line = out.substr(at, end - at);
    EXPECT_LE(line.size() + 2, ImapServer::reply_reserve_bytes);
    if (line == "* 2 EXPUNGE") ++expunges;
    if (line.starts_with("* OK [COPYUID 7 ")) {
      std::istringstream sets(line.substr(16, line.find(']') - 16));
      std::string source, destination;
      sets >> source >> destination;
      std::vector<std::uint32_t> from, to;
      for (const auto& [text, numbers] : {std::pair{source, &from}, std::pair{destination, &to}}) {
        std::istringstream runs(text);
        for (std::string run; std::getline(runs, run, ',');) {
          const std::size_t colon = run.find(':');
          const auto low = static_cast<std::uint32_t>(std::stoul(run.substr(0, colon)));
          const auto high = colon == std::string::npos ? low : static_cast<std::uint32_t>(std::stoul(run.substr(colon + 1)));
          for (std::uint32_t n = low; n <= high; ++n) numbers->push_back(n);
        }
      }
      EXPECT_EQ(from.size(), to.size());
      ++batches;
      EXPECT_EQ(to.front(), 400 + sources.size());  // the 300 copies of COPY took 100..399
      sources.insert(sources.end(), from.begin(), from.end());
    }
    at = end + 2;
  }
  std::vector<std::uint32_t> moved;
  for (std::uint32_t i = 1; i < 300; ++i) moved.push_back(1000 + 2 * i);
  EXPECT_EQ(sources, moved);
  EXPECT_EQ(expunges, 299u);
  EXPECT_GT(batches, 5u);
}

}  // namespace
}  // namespace pigeon::protocol
