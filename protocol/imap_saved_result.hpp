// The result a SEARCH RETURN (SAVE) keeps for "$" (RFC 5182), in a fixed
// table of runs: messages that were next to each other in the mailbox when
// the result was saved, each run kept as its first and last UID. A message
// that arrives later gets a greater UID than any there (the store's UIDs only
// ascend), so a run never takes it in; one expunged leaves its run by itself.
// A result costs a run per stretch of matching messages, not an entry per
// message: "all unseen" in a mailbox read from the top is one run.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace pigeon::protocol::imap {

class SavedResult {
 public:
  static constexpr std::size_t max_runs = 32;

  // Whether the message with `uid` is in "$".
  bool contains(std::uint32_t uid) const {
    return std::any_of(runs_.begin(), runs_.begin() + static_cast<std::ptrdiff_t>(saved_),
                       [uid](const Run& run) { return run.first_uid <= uid && uid <= run.last_uid; });
  }
  // "$" names no message (RFC 5182 §2.1: at SELECT, and after a failed SAVE).
  void clear() { *this = {}; }

  // A new result is built beside "$", which the same SEARCH may still name;
  // its messages come in ascending order of their index in the mailbox.
  void begin() {
    building_ = 0;
    overflowed_ = false;
  }
  void add(std::uint32_t index, std::uint32_t uid) {
    if (building_ > 0 && index == last_index_ + 1) {
      runs_[saved_ + building_ - 1].last_uid = uid;
    } else if (saved_ + building_ == max_runs) {
      overflowed_ = true;
    } else {
      runs_[saved_ + building_++] = {uid, uid};
    }
    last_index_ = index;
  }
  // The new result becomes "$"; false, and "$" empty, when it needed more
  // than max_runs runs.
  bool commit() {
    if (overflowed_) {
      clear();
      return false;
    }
    std::copy_n(runs_.begin() + static_cast<std::ptrdiff_t>(saved_), building_, runs_.begin());
    saved_ = building_;
    building_ = 0;
    return true;
  }

 private:
  struct Run {
    std::uint32_t first_uid = 0;
    std::uint32_t last_uid = 0;
  };
  std::array<Run, max_runs> runs_{};
  std::size_t saved_ = 0;     // runs_[0, saved_) is "$"
  std::size_t building_ = 0;  // then the runs of the result being built
  std::uint32_t last_index_ = 0;
  bool overflowed_ = false;
};

}  // namespace pigeon::protocol::imap
