#include "spool_index.hpp"

#include <algorithm>
#include <utility>

#include "protocol/assert.hpp"

namespace pigeon {

std::size_t DetailTable::slot_of(MessageId id) const {
  return static_cast<std::size_t>(std::find(ids_.begin(), ids_.end(), id) - ids_.begin());
}

DeliveryDetail* DetailTable::find(MessageId id) {
  const std::size_t slot = slot_of(id);
  return slot == capacity ? nullptr : &details_[slot];
}

// The caller knows `id` has none (IndexEntry::has_detail): no scan of the
// whole table to check it, only to the first free slot.
DeliveryDetail* DetailTable::take(MessageId id) {
  const bool an_id = id != 0;
  PIGEON_ASSERT(an_id);
  const std::size_t slot = slot_of(0);
  if (slot == capacity) return nullptr;
  ids_[slot] = id;
  details_[slot] = DeliveryDetail{};
  ++used_;
  return &details_[slot];
}

void DetailTable::release(MessageId id) {
  const std::size_t slot = slot_of(id);
  const bool taken = slot != capacity;
  PIGEON_ASSERT(taken);
  ids_[slot] = 0;
  --used_;
}

// Only the entries in use: a large index that was never filled is never
// touched, so the host's RAM (its PSS) grows with the messages, not the capacity.
void MessageIndex::clear() {
  for (std::size_t rank = 0; rank < size_; ++rank) entries_[order_[rank]] = IndexEntry{};
  size_ = 0;
  next_free_hint_ = 0;
}

// The rank of the first entry whose id is not below `id`.
std::size_t MessageIndex::lower_rank(MessageId id) const {
  const auto ranks = std::span(order_).first(size_);
  return static_cast<std::size_t>(std::partition_point(ranks.begin(), ranks.end(),
                                                       [&](Slot slot) { return entries_[slot].id < id; }) -
                                  ranks.begin());
}

std::size_t MessageIndex::rank_after(MessageId id) const {
  const std::size_t rank = lower_rank(id);
  return rank < size_ && entries_[order_[rank]].id == id ? rank + 1 : rank;
}

IndexEntry* MessageIndex::find(MessageId id) {
  const std::size_t rank = lower_rank(id);
  if (rank == size_ || entries_[order_[rank]].id != id) return nullptr;
  return &entries_[order_[rank]];
}

const IndexEntry& MessageIndex::by_rank(std::size_t rank) const {
  const bool ranked = rank < size_;
  PIGEON_ASSERT(ranked);
  return entries_[order_[rank]];
}

IndexEntry& MessageIndex::by_rank(std::size_t rank) {
  return const_cast<IndexEntry&>(std::as_const(*this).by_rank(rank));
}

IndexEntry* MessageIndex::insert(MessageId id) {
  if (size_ == capacity) return nullptr;
  const std::size_t rank = lower_rank(id);
  const bool new_id = rank == size_ || entries_[order_[rank]].id != id;
  PIGEON_ASSERT(new_id);
  // From the slot after the last one taken, round the ring: at mount, slots fill in order.
  std::size_t slot = next_free_hint_;
  for (std::size_t tried = 0; entries_[slot].state != EntryState::unused; slot = (slot + 1) % capacity) {
    const bool unused_left = ++tried < capacity;  // size_ counts the used ones
    PIGEON_ASSERT(unused_left);
  }
  next_free_hint_ = (slot + 1) % capacity;
  IndexEntry* const free = &entries_[slot];
  std::copy_backward(order_.begin() + static_cast<std::ptrdiff_t>(rank),
                     order_.begin() + static_cast<std::ptrdiff_t>(size_),
                     order_.begin() + static_cast<std::ptrdiff_t>(size_ + 1));
  order_[rank] = static_cast<Slot>(slot);
  ++size_;
  *free = IndexEntry{};
  free->id = id;
  free->state = EntryState::writing;
  return free;
}

void MessageIndex::remove(IndexEntry& entry) {
  const std::size_t rank = lower_rank(entry.id);
  const bool indexed = rank < size_ && &entries_[order_[rank]] == &entry;
  PIGEON_ASSERT(indexed);
  std::copy(order_.begin() + static_cast<std::ptrdiff_t>(rank + 1),
            order_.begin() + static_cast<std::ptrdiff_t>(size_), order_.begin() + static_cast<std::ptrdiff_t>(rank));
  --size_;
  entry = IndexEntry{};
}

}  // namespace pigeon
