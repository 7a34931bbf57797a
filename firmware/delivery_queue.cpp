#include "delivery_queue.hpp"

#include <algorithm>
#include <utility>

namespace pigeon {

std::uint32_t RetryPolicy::backoff_s(std::uint32_t failed_attempts) const {
  std::uint64_t wait = initial_s;
  // Doubling stops at the cap, so the shift never overflows.
  for (std::uint32_t n = 1; n < failed_attempts && wait < max_s; ++n) wait *= 2;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(wait, max_s));
}

bool DeliveryQueue::add(std::uint32_t message_id, std::int64_t queued_at_s, std::int64_t next_attempt_s,
                        std::uint32_t failed_attempts) {
  if (lookup(message_id) != nullptr) return true;
  const auto free = std::find_if(entries_.begin(), entries_.end(), [](const Entry& e) { return !e.used; });
  if (free == entries_.end()) return false;
  *free = {message_id, queued_at_s, next_attempt_s, failed_attempts, false, true};
  return true;
}

std::optional<std::uint32_t> DeliveryQueue::take_due(std::int64_t now_s) {
  Entry* best = nullptr;
  for (Entry& entry : entries_) {
    if (!entry.used || entry.in_flight || entry.next_attempt_s > now_s) continue;
    if (best == nullptr || entry.next_attempt_s < best->next_attempt_s) best = &entry;
  }
  if (best == nullptr) return std::nullopt;
  best->in_flight = true;
  return best->message_id;
}

void DeliveryQueue::finished(std::uint32_t message_id) {
  if (Entry* entry = lookup(message_id)) *entry = {};
}

DeliveryQueue::Deferral DeliveryQueue::deferred(std::uint32_t message_id, std::int64_t now_s) {
  Entry* entry = lookup(message_id);
  if (entry == nullptr) return Deferral::expired;
  ++entry->failed_attempts;
  entry->in_flight = false;
  entry->next_attempt_s = now_s + policy_.backoff_s(entry->failed_attempts);
  if (now_s - entry->queued_at_s >= static_cast<std::int64_t>(policy_.max_age_s)) {
    *entry = {};
    return Deferral::expired;
  }
  return Deferral::retry_scheduled;
}

void DeliveryQueue::put_back(std::uint32_t message_id) {
  if (Entry* entry = lookup(message_id)) entry->in_flight = false;
}

std::size_t DeliveryQueue::make_all_due(std::int64_t now_s) {
  std::size_t waiting = 0;
  for (Entry& entry : entries_) {
    if (!entry.used || entry.in_flight || entry.next_attempt_s <= now_s) continue;
    entry.next_attempt_s = now_s;
    ++waiting;
  }
  return waiting;
}

std::optional<std::int64_t> DeliveryQueue::next_attempt_s() const {
  std::optional<std::int64_t> earliest;
  for (const Entry& entry : entries_) {
    if (!entry.used || entry.in_flight) continue;
    if (!earliest || entry.next_attempt_s < *earliest) earliest = entry.next_attempt_s;
  }
  return earliest;
}

const DeliveryQueue::Entry* DeliveryQueue::find(std::uint32_t message_id) const {
  const auto it = std::find_if(entries_.begin(), entries_.end(),
                               [message_id](const Entry& e) { return e.used && e.message_id == message_id; });
  return it == entries_.end() ? nullptr : &*it;
}

DeliveryQueue::Entry* DeliveryQueue::lookup(std::uint32_t message_id) {
  return const_cast<Entry*>(std::as_const(*this).find(message_id));
}

std::size_t DeliveryQueue::size() const {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.used; }));
}

}  // namespace pigeon
