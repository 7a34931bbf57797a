// Fuzzes the POP3 server engine: any client bytes, any maildrop answers, a
// message that cannot be read. The
// session runs twice: fed whole and read all at once, then fed in small
// pieces and read a few bytes at a time; both must send the same bytes and
// make the same maildrop calls.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "protocol/pop3_server.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

using protocol::Pop3Decision;

std::vector<std::string> messages_from(const Tape& tape) {
  std::string big = "Subject: big\r\n\r\n";
  for (int line = 0; line < 120; ++line) big += (line % 4 == 0 ? ".dot " : "line ") + std::to_string(line) + "\r\n";
  std::vector<std::string> all{"Subject: a\r\n\r\nbody\r\n", big, "Subject: c\r\n\r\n.\r\n..\r\n", "\r\n"};
  all.resize(tape.at(4) % 5);
  return all;
}

class TapeMaildrop final : public protocol::Pop3ServerPolicy {
 public:
  explicit TapeMaildrop(const Tape& tape)
      : messages_(messages_from(tape)),
        unreadable_index_(tape.at(2) % 8),
        tls_session_free_(tape.at(6) % 4 != 0),
        decisions_(tape, answer) {}

  std::vector<std::string> calls;
  Pop3Decision resumed() const { return decisions_.resumed(); }

  Pop3Decision login(std::string_view authzid, std::string_view user, std::string_view password) override {
    return decide("login " + std::string(authzid) + "/" + std::string(user) + "/" + std::string(password));
  }
  std::size_t message_count() override { return messages_.size(); }
  std::uint32_t message_size_bytes(std::size_t index) override {
    require(index < messages_.size());
    return static_cast<std::uint32_t>(messages_[index].size());
  }
  std::string_view unique_id(std::size_t index) override {
    require(index < messages_.size());
    static constexpr std::array<std::string_view, 5> ids{"a1", "b2", "c3", "d4", "e5"};
    return ids[index];
  }
  std::optional<std::size_t> read_message(std::size_t index, std::uint32_t offset,
                                          std::span<std::uint8_t> out) override {
    require(index < messages_.size() && offset <= messages_[index].size());
    if (index == unreadable_index_) return std::nullopt;
    const std::size_t length = std::min(out.size(), messages_[index].size() - offset);
    std::copy_n(messages_[index].data() + offset, length, out.data());
    return length;
  }
  Pop3Decision commit_deletions(const protocol::DeletionMarks& deleted) override {
    std::string marks = "commit ";
    for (std::size_t index = 0; index < messages_.size(); ++index) marks += deleted[index] ? '1' : '0';
    return decide(marks);
  }
  void release() override { calls.emplace_back("release"); }
  bool reserve_tls() override { return tls_session_free_; }

 private:
  Pop3Decision decide(std::string call) {
    calls.push_back(std::move(call));
    return decisions_.next();
  }

  static Pop3Decision answer(std::uint8_t choice) {
    switch (choice % 3) {
      case 0: return Pop3Decision::accepted();
      case 1: return Pop3Decision::rejected("IN-USE", "Locked");
      default: return Pop3Decision::rejected("SYS/TEMP", "Try later");
    }
  }

  std::vector<std::string> messages_;
  // A message whose every read fails, as a flash error makes it (an index past
  // the maildrop: none). Whole, so that both runs fail at the same read.
  std::size_t unreadable_index_;
  // Whether a TLS session is free comes from the tape: the same for every split.
  bool tls_session_free_;
  TapeDecisions<Pop3Decision> decisions_;
};

protocol::Pop3ServerSettings settings_from(const Tape& tape, std::span<protocol::DeletionMarks::Word> deletion_words) {
  const std::uint8_t bits = tape.at(0);
  protocol::Pop3ServerSettings settings;
  settings.host_name = "fuzz.test";
  settings.tls_active = bits & 1;
  settings.stls_offered = bits & 2;
  settings.login_requires_tls = bits & 4;
  settings.max_messages = 1 + tape.at(1) % 5;
  settings.deletion_marks = deletion_words;
  return settings;
}

// `read_step_bytes` 0 reads all output at once.
Outcome run(const Tape& tape, const std::vector<std::size_t>& pieces, std::size_t read_step_bytes) {
  TapeMaildrop maildrop(tape);
  std::array<protocol::DeletionMarks::Word, 1> deletion_words{};
  const std::string sent = run_streaming_session<protocol::Pop3Server>(maildrop, settings_from(tape, deletion_words),
                                                                       tape, pieces, read_step_bytes);
  return {sent, maildrop.calls};
}

}  // namespace
}  // namespace pigeon::fuzz

PIGEON_FUZZ_WHOLE_AND_SPLIT(pigeon::fuzz::run)
