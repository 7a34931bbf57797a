// The spool's RAM index: one small entry per message being written or
// committed and not dead, rebuilt from the log at mount, and a fixed table of
// details for the few that owe the smarthost (their outcomes per recipient
// and retry state); the rest of a message is read from flash when needed
// (docs/architecture.md §5). Entries stay in their slot for life;
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

// What RAM keeps of every message (docs/architecture.md §5): enough to list
// it, read it and find the rest on flash. The per-recipient outcomes and the
// retry state of a message that still owes the smarthost are a DeliveryDetail;
// what only reclaim and verification need is in its commit record.
struct IndexEntry {
  MessageId id = 0;
  std::uint32_t begin_address = 0;
  std::uint32_t commit_address = 0;  // 0 while the message is being written
  // The latest mailbox state record (§3.7); 0 when there is none. The IMAP
  // flags and folders of its users stay on flash, read when asked for.
  std::uint32_t state_address = 0;
  std::uint32_t size_bytes = 0;
  std::uint32_t arrived_s = 0;  // wall clock; 0 when unknown (IMAP's INTERNALDATE)
  // Bit per mailbox with a recipient still owed (Spool::mailbox_bit), the
  // smarthost's included. Local recipients only ever get `deleted`, for all
  // of a mailbox at once (Spool::mark_deleted): for a message that owes the
  // smarthost nothing, these bits are its whole outcome state.
  std::uint32_t owed_mailboxes = 0;
  EntryState state = EntryState::unused;
  bool body_8bit : 1 = false;
  bool verified : 1 = false;  // every data CRC and the body CRC checked out
  bool corrupt : 1 = false;   // a check failed: never delivered, dropped at reclaim
  bool streamed : 1 = false;  // recipients in recipient records (docs/spool-format.md §3.6)
  bool has_detail : 1 = false;  // a DeliveryDetail with its id holds its outcomes
  std::uint8_t recipient_count = 0;
  // The begin's mailbox state (docs/spool-format.md §3.7): every local
  // recipient's until a mailbox state record names it.
  std::uint8_t begin_state = 0;

  // Committed, and every recipient has its outcome.
  bool dead() const { return state == EntryState::committed && owed_mailboxes == 0; }
};

// The whole RAM cost of a message that owes the smarthost nothing (with its
// slot in id order): x86-64, mps2-an385 and linux-mipsel alike.
static_assert(sizeof(IndexEntry) <= 32, "docs/architecture.md §5 counts 32 bytes a message");

// A message being written, or one that still owes a recipient to the
// smarthost: the outcomes per recipient and the retry state.
struct DeliveryDetail {
  spool_format::RecipientOutcomes outcomes;
  std::uint16_t attempts = 0;
  std::uint32_t next_retry_s = 0;
  std::uint32_t attempt_address = 0;  // the latest attempt record; 0 when there is none
};

// The fixed table of DeliveryDetail, looked up by message id: a scan of the
// ids alone, 4 bytes a detail (thousands on the host, a few microseconds).
class DetailTable {
 public:
  static constexpr std::size_t capacity = PIGEON_SPOOL_ACTIVE_MESSAGES;

  void clear() {
    ids_ = {};
    used_ = 0;
  }
  std::size_t free_count() const { return capacity - used_; }
  DeliveryDetail* find(MessageId id);
  // A fresh detail for `id`; nullptr when the table is full.
  DeliveryDetail* take(MessageId id);
  void release(MessageId id);

 private:
  std::size_t slot_of(MessageId id) const;  // capacity when none

  std::array<MessageId, capacity> ids_{};  // 0: free
  std::array<DeliveryDetail, capacity> details_{};
  std::size_t used_ = 0;
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
  const IndexEntry& by_rank(std::size_t rank) const;
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
