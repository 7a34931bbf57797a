// Fuzzes the IMAP server engine: any client bytes, any store answers. The
// session runs twice, fed whole and read all at once, then fed in small
// pieces and read a few bytes at a time: both must send the same bytes and
// make the same store calls. The replies must also parse as IMAP responses:
// every line begins with "*", "+" or a tag and ends in CRLF, and every
// literal announced is followed by exactly as many bytes.
#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/imap_server.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

using protocol::ImapDecision;
using protocol::ImapFlags;

struct Message {
  std::string bytes;
  std::uint32_t uid;
  ImapFlags flags;
};

std::vector<Message> messages_from(const Tape& tape) {
  std::string big = "Subject: big\r\nX-Fold: a\r\n b\r\n\r\n";
  for (int line = 0; line < 150; ++line) big += "line " + std::to_string(line) + "\r\n";
  std::vector<Message> all{{"From: \"A, B\" <a@x> (c)\r\nTo: g: d@y, <@r:e@z>;\r\nSubject: one \xC3\r\n\r\nbody\r\n", 3, 0},
                           {big, 5, 1},
                           {"no header end", 9, 8},
                           {"\r\n", 12, 2},
                           {"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; a=\"\xC3\"\r\n"
                            "\r\none\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ntwo\r\n--b--\r\n",
                            14, 0}};
  all.resize(tape.at(4) % 6);
  return all;
}

class TapeStore final : public protocol::ImapServerPolicy {
 public:
  explicit TapeStore(const Tape& tape)
      : tape_(tape), messages_(messages_from(tape)), tls_session_free_(tape.at(6) % 4 != 0),
        unreadable_(tape.at(8) % 7 == 0), decisions_(tape, answer) {}

  std::vector<std::string> calls;
  ImapDecision resumed() const { return decisions_.resumed(); }

  ImapDecision login(std::string_view authzid, std::string_view user, std::string_view password) override {
    return decide("login " + std::string(authzid) + "/" + std::string(user) + "/" + std::string(password));
  }
  bool reserve_tls() override { return tls_session_free_; }
  std::size_t mailbox_count() override { return 2; }
  protocol::ImapMailbox mailbox(std::size_t index) override {
    require(index < 2);
    return index == 0 ? protocol::ImapMailbox{"INBOX", ""} : protocol::ImapMailbox{"Sent", "\\Sent"};
  }
  protocol::ImapMailboxStatus status(std::size_t mailbox) override {
    require(mailbox < 2);
    return {};
  }
  ImapFlags permanent_flags() override { return 8; }
  void select(std::size_t mailbox) override {
    require(mailbox < 2);
    calls.push_back("select " + std::to_string(mailbox));
  }
  void unselect() override { calls.emplace_back("unselect"); }
  std::uint32_t message_count() override { return static_cast<std::uint32_t>(messages_.size()); }
  std::uint32_t uid(std::uint32_t index) override { return at(index).uid; }
  ImapFlags flags(std::uint32_t index) override { return at(index).flags; }
  void set_flags(std::uint32_t index, ImapFlags flags) override {
    require(flags < 32);
    at(index).flags = flags;
    calls.push_back("flags " + std::to_string(index) + " " + std::to_string(flags));
  }
  std::uint32_t size_bytes(std::uint32_t index) override { return static_cast<std::uint32_t>(at(index).bytes.size()); }
  std::uint32_t arrived_s(std::uint32_t index) override { return at(index).uid * 86400u; }
  std::optional<std::size_t> read_message(std::uint32_t index, std::uint32_t offset,
                                          std::span<std::uint8_t> out) override {
    const std::string& bytes = at(index).bytes;
    require(offset <= bytes.size() && !out.empty());
    if (unreadable_ && offset > 40) return std::nullopt;
    const std::size_t length = std::min(out.size(), bytes.size() - offset);
    std::copy_n(bytes.data() + offset, length, out.data());
    return length;
  }
  ImapDecision expunge(std::uint32_t index) override {
    // EXPUNGE removes \Deleted messages; MOVE the copies it just committed;
    // neither a message that is gone already.
    require((at(index).flags & 8) != 0 || removing_moved_);
    require(!expunged_elsewhere(index));
    calls.push_back("expunge " + std::to_string(at(index).uid));
    if (at(index).uid == 9) return ImapDecision::rejected("INUSE", "Locked");
    messages_.erase(messages_.begin() + index);
    return ImapDecision::accepted();
  }
  ImapDecision commit() override {
    removing_moved_ = false;
    return decide("commit");
  }
  ImapDecision append_begin(std::size_t mailbox, std::uint32_t size_bytes, ImapFlags flags) override {
    require(mailbox < 2 && flags < 32);
    // Never pending (the contract): a deferred answer is taken at once.
    const ImapDecision decision = decide("append_begin " + std::to_string(mailbox) + " " + std::to_string(size_bytes));
    return decision.kind == ImapDecision::Kind::pending ? resumed() : decision;
  }
  bool append_data(std::span<const std::uint8_t> bytes) override {
    require(!bytes.empty());
    appended_ += bytes.size();
    return appended_ < 1000;
  }
  ImapDecision append_end(bool keep) override {
    // After a refused piece the engine sends no more: how many came then
    // depends on the pieces, so only a kept message's length is recorded.
    const std::size_t appended = std::exchange(appended_, 0);
    return decide("append_end " + (keep ? std::to_string(appended) : std::string("dropped")));
  }
  std::uint32_t appended_uid() override { return 77; }
  ImapDecision copy_begin(std::size_t mailbox, bool move) override {
    require(mailbox < 2 && !copying_);
    // Never pending (the contract): a deferred answer is taken at once.
    ImapDecision decision = decide("copy_begin " + std::to_string(mailbox) + (move ? " move" : ""));
    if (decision.kind == ImapDecision::Kind::pending) decision = resumed();
    copying_ = decision.kind == ImapDecision::Kind::accept;
    moving_ = move;
    return decision;
  }
  ImapDecision copy_message(std::uint32_t index) override {
    require(copying_);
    ImapDecision decision = decide("copy " + std::to_string(at(index).uid));
    if (decision.kind == ImapDecision::Kind::pending) decision = resumed();
    if (decision.kind == ImapDecision::Kind::accept) ++copied_uid_;
    return decision;
  }
  std::uint32_t copied_uid() override { return copied_uid_; }
  ImapDecision copy_commit() override {
    require(copying_);
    copying_ = false;
    const ImapDecision decision = decide("copy_commit");
    const ImapDecision final = decision.kind == ImapDecision::Kind::pending ? resumed() : decision;
    removing_moved_ = moving_ && final.kind == ImapDecision::Kind::accept;
    return decision;
  }
  void copy_discard() override {
    require(copying_);
    copying_ = false;
    calls.emplace_back("copy_discard");
  }
  // What other sessions do, found by refresh(): one change at most after
  // each call of this session's that `calls` records (the split run
  // refreshes more often while it idles, so a count of refreshes would
  // differ between the runs; for the same reason take_vanished() records
  // nothing). A
  // message removed elsewhere keeps its number, with no content, until the
  // next change announces it; flags stored elsewhere are announced at once.
  void refresh() override {
    if (calls.size() == refreshed_after_calls_) return;
    refreshed_after_calls_ = calls.size();
    if (removed_elsewhere_) {
      vanishing_ = std::exchange(removed_elsewhere_, std::nullopt);
      return;
    }
    const std::uint8_t choice = tape_.at(3 + 2 * calls.size());
    if (messages_.empty()) return;
    const auto index = static_cast<std::uint32_t>((choice >> 2) % messages_.size());
    if (choice % 4 == 1) removed_elsewhere_ = at(index).uid;
    if (choice % 4 == 2) {
      at(index).flags = static_cast<ImapFlags>(choice >> 3);
      flags_changed_ = index;
    }
  }
  std::optional<std::uint32_t> take_vanished() override {
    if (!vanishing_) return std::nullopt;
    const auto gone = std::find_if(messages_.begin(), messages_.end(),
                                   [&](const Message& message) { return message.uid == *vanishing_; });
    require(gone != messages_.end());  // the engine never removes it itself
    vanishing_.reset();
    const auto index = static_cast<std::uint32_t>(gone - messages_.begin());
    messages_.erase(gone);
    return index;
  }
  bool expunged_elsewhere(std::uint32_t index) override {
    const std::uint32_t uid = at(index).uid;
    return uid == removed_elsewhere_ || uid == vanishing_;
  }
  std::optional<std::uint32_t> take_flag_change() override { return std::exchange(flags_changed_, std::nullopt); }
  void release() override { calls.emplace_back("release"); }

 private:
  Message& at(std::uint32_t index) {
    require(index < messages_.size());
    return messages_[index];
  }
  ImapDecision decide(std::string call) {
    calls.push_back(std::move(call));
    return decisions_.next();
  }
  static ImapDecision answer(std::uint8_t choice) {
    return choice % 2 == 0 ? ImapDecision::accepted() : ImapDecision::rejected("UNAVAILABLE", "Try later");
  }

  const Tape& tape_;
  std::vector<Message> messages_;
  std::size_t refreshed_after_calls_ = 0;
  std::optional<std::uint32_t> removed_elsewhere_;  // UID of a message gone elsewhere, not yet told
  std::optional<std::uint32_t> vanishing_;          // UID that take_vanished() announces now
  std::optional<std::uint32_t> flags_changed_;      // index whose flags changed elsewhere
  bool tls_session_free_;
  bool unreadable_;
  std::size_t appended_ = 0;  // bytes of the message being appended
  bool copying_ = false;       // between copy_begin and copy_commit or copy_discard
  bool moving_ = false;        // the transaction is a MOVE's
  bool removing_moved_ = false;  // a MOVE's copies are kept: its sources go next
  std::uint32_t copied_uid_ = 100;
  TapeDecisions<ImapDecision> decisions_;
};

protocol::ImapServerSettings settings_from(const Tape& tape) {
  const std::uint8_t bits = tape.at(0);
  protocol::ImapServerSettings settings;
  settings.host_name = "fuzz.test";
  settings.tls_active = bits & 1;
  settings.starttls_offered = bits & 2;
  settings.login_requires_tls = bits & 4;
  return settings;
}

// The replies as IMAP responses (RFC 9051 §7): lines that begin with '*',
// '+' or a tag, end in CRLF, and literals of exactly the announced length.
void require_well_formed(std::string_view sent) {
  while (!sent.empty()) {
    require(sent.front() == '*' || sent.front() == '+' || (sent.front() > ' ' && sent.front() < 0x7F));
    for (;;) {
      const std::size_t end = sent.find("\r\n");
      require(end != std::string_view::npos);
      const std::string_view line = sent.substr(0, end);
      sent.remove_prefix(end + 2);
      const std::size_t open = line.rfind('{');
      if (line.empty() || line.back() != '}' || open == std::string_view::npos || line.front() == '+') break;
      std::size_t length = 0;
      for (const char digit : line.substr(open + 1, line.size() - open - 2)) {
        require(digit >= '0' && digit <= '9');
        length = length * 10 + static_cast<std::size_t>(digit - '0');
      }
      if (length > sent.size()) {
        // Only a message that became unreadable leaves a literal short, and BYE follows.
        require(sent.find("* BYE Message unreadable") != std::string_view::npos);
        return;
      }
      sent.remove_prefix(length);
    }
  }
}

Outcome run(const Tape& tape, const std::vector<std::size_t>& pieces, std::size_t read_step_bytes) {
  TapeStore store(tape);
  const std::string sent =
      run_streaming_session<protocol::ImapServer>(store, settings_from(tape), tape, pieces, read_step_bytes);
  require_well_formed(sent);
  return {sent, store.calls};
}

}  // namespace
}  // namespace pigeon::fuzz

PIGEON_FUZZ_WHOLE_AND_SPLIT(pigeon::fuzz::run)
