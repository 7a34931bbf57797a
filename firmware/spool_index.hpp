// The spool's RAM index: one entry per message being written or committed and
// not dead, rebuilt from the log at mount. Entries stay in their slot for life;
// a second array keeps their slots in id order, which is arrival order, so
// that lookups are binary searches and POP3 listings and the relay's queue
// walk the messages once, oldest first.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <type_traits>

#include "pigeon_limits.hpp"
#include "spool_format.hpp"
#include "spool_log.hpp"

namespace pigeon {

enum class EntryState : std::uint8_t { unused, writing, committed };

struct IndexEntry {
  MessageId id = 0;
  EntryState state = EntryState::unused;
  bool body_8bit = false;
  bool verified = false;  // every data CRC and the body CRC checked out
  bool corrupt = false;   // a check failed: never delivered, dropped at reclaim
  // owed_mailboxes follows the outcomes; false after an outcome until the
  // envelope on flash is read again (Spool::owed_mailboxes).
  bool mailboxes_known = false;
  bool streamed = false;  // recipients in recipient records (docs/spool-format.md §3.6)
  std::uint8_t recipient_count = 0;
  // The begin's mailbox state (docs/spool-format.md §3.7): every local
  // recipient's until a mailbox state record names it.
  std::uint8_t begin_state = 0;
  std::uint16_t envelope_bytes = 0;
  std::uint16_t recipient_record_bytes = 0;  // flash its recipient records take, when streamed (reclaim's plan)
  std::uint32_t envelope_crc = 0;
  std::uint32_t begin_address = 0;
  std::uint32_t size_bytes = 0;
  std::uint32_t body_crc = 0;
  std::uint32_t data_records = 0;
  spool_format::RecipientOutcomes outcomes;
  std::uint32_t arrived_s = 0;
  std::uint32_t next_retry_s = 0;
  std::uint16_t attempts = 0;
  std::uint32_t attempt_address = 0;  // the latest attempt record; 0 when there is none
  // The latest mailbox state record (§3.7); 0 when there is none. The IMAP
  // flags and folders of its users stay on flash, read when asked for.
  std::uint32_t state_address = 0;
  // Bit per mailbox with a recipient still owed (Spool::mailbox_bit): which
  // recipient is where stays on flash, in the envelope, so that an entry
  // does not grow with the recipients a message may have.
  std::uint32_t owed_mailboxes = 0;

  bool owed(std::uint8_t recipient) const { return outcomes.owed(recipient); }
  // Committed, and every recipient has its outcome.
  bool dead() const { return state == EntryState::committed && outcomes.all_done(recipient_count); }
};

class MessageIndex {
 public:
  static constexpr std::size_t capacity = PIGEON_SPOOL_MAX_MESSAGES;

  void clear();
  std::size_t size() const { return size_; }
  IndexEntry* find(MessageId id);
  // A fresh entry for `id`, which is not in the index; nullptr when it is full.
  IndexEntry* insert(MessageId id);
  void remove(IndexEntry& entry);

  // Entries by rank in id order: rank 0 is the oldest. Ranks shift when an
  // entry is inserted or removed.
  IndexEntry& by_rank(std::size_t rank);
  // The rank of the first entry with an id above `id` (size() when none).
  std::size_t rank_after(MessageId id) const;
  // Every slot, used or not, in no particular order; stable while entries
  // are removed (for scans that may release what they visit).
  std::span<IndexEntry> slots() { return entries_; }
  std::span<const IndexEntry> slots() const { return entries_; }

 private:
  using Slot = std::conditional_t<(capacity <= 256), std::uint8_t, std::uint16_t>;
  static_assert(capacity <= 65536, "slots are 16 bits");

  std::size_t lower_rank(MessageId id) const;

  std::array<IndexEntry, capacity> entries_{};
  std::array<Slot, capacity> order_{};  // slots of the used entries, ids ascending
  std::size_t size_ = 0;
  std::size_t next_free_hint_ = 0;  // where the search for an unused slot starts
};

}  // namespace pigeon
