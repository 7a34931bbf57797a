// The simulator's book of every message: what each device submitted, what the
// relay answered, and where each copy came out (the smarthost, a mailbox, a
// bounce). The invariants of docs/simulation.md are checked here as events
// arrive and once more at the end; the first violation stops the run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pigeon::sim {

enum class Answer : std::uint8_t {
  none,          // submitted; no final reply yet
  acknowledged,  // 250 to the final dot, or the alert API said sent
  refused,       // a 4xx or 5xx to the final dot, or an alert refused
  unknown,       // the connection ended after the final dot, before its reply
};

enum class Outlet : std::uint8_t { smarthost, mailbox, bounce };

// Why a second copy of a message reached the smarthost.
enum class DuplicateCause : std::uint8_t {
  power_cut,   // the relay lost power between the smarthost's 250 and its outcome record
  unrecorded,  // the relay lost power after a 250 whose outcome a full spool could not record
  reply_lost,  // the smarthost's 250 never reached the relay (connection dropped or reset)
};

struct LedgerTotals {
  std::uint64_t submitted = 0, acknowledged = 0, refused = 0, unknown = 0;
  std::uint64_t delivered_smarthost = 0, delivered_mailbox = 0, bounced = 0;
  std::uint64_t delivered_unacknowledged = 0;  // delivered although the reply to the dot was lost
  std::uint64_t lost = 0;
  std::uint64_t duplicates_power_cut = 0, duplicates_unrecorded = 0, duplicates_reply_lost = 0;
  std::uint64_t deletions_committed = 0;
};

class Ledger {
 public:
  std::uint64_t submit(bool alert, std::uint64_t now_ms);
  void answer(std::uint64_t id, Answer answer, std::uint64_t now_ms);

  // A copy came out. Checked at once: the message exists and was not refused;
  // a second copy at the smarthost needs a cause noted before it.
  void came_out(std::uint64_t id, Outlet outlet, std::uint64_t now_ms);
  // Causes of later duplicates: the smarthost's 250 for `id` may not have
  // reached the relay; the relay lost power (every message delivered before
  // may come again).
  void reply_at_risk(std::uint64_t id);
  void relay_power_cut(std::uint64_t now_ms);
  // A relay settled `count` outcomes without their records (its spool was
  // full): the latest copies to come out have no record, so a power cut at
  // any later time may send each once more. The relay reports after the
  // round that took the smarthost's 250 (one smarthost connection per relay:
  // the latest copies are those).
  void outcomes_unrecorded(std::uint64_t count);
  // Drops copies older than the window from the list a power cut looks at.
  void forget_old_copies(std::uint64_t now_ms);
  // A power cut explains a second copy only this soon after the first: the
  // relay records the outcome as soon as the 250 arrives.
  static constexpr std::uint64_t outcome_window_ms = 60'000;

  // A POP3 session that deleted `id` ended with +OK to QUIT: it must never be
  // seen again.
  void deletion_committed(std::uint64_t id);
  // A reader saw `id` in a mailbox listing.
  void seen_in_mailbox(std::uint64_t id);

  // The end of the run: every acknowledged message came out.
  void final_check();

  bool violated() const { return !violation_.empty(); }
  const std::string& violation() const { return violation_; }
  const LedgerTotals& totals() const { return totals_; }
  // Acknowledgement to first delivery at the smarthost, in simulated ms.
  std::vector<std::uint64_t> latencies_ms() const;
  // Acknowledged messages not yet out: the queue as the devices see it.
  std::uint64_t outstanding() const;

 private:
  struct Entry {
    Answer answer = Answer::none;
    bool alert = false;
    bool reply_at_risk = false;
    bool deleted = false;
    std::uint32_t copies = 0;  // smarthost deliveries plus bounces
    bool in_mailbox = false;
    std::uint64_t answered_ms = 0;
    std::uint64_t first_out_ms = 0;
    std::uint64_t last_copy_ms = 0;
    bool cut_after_copy = false;  // a power cut came within outcome_window_ms of the last copy
    bool unrecorded = false;       // its last copy's outcome was settled without a record
    bool cut_after_unrecorded = false;  // and a power cut came after it
  };

  Entry* find(std::uint64_t id, const char* what);
  void fail(std::string text);
  void count_out(Entry& entry, std::uint64_t now_ms);

  std::vector<Entry> entries_;
  LedgerTotals totals_;
  std::vector<std::uint64_t> recent_copies_;  // ids whose last copy may still await its outcome record
  std::vector<std::uint64_t> unrecorded_;     // ids whose last copy's outcome has no record
  std::string violation_;
};

}  // namespace pigeon::sim
