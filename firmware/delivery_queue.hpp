// The delivery queue: which spooled messages still owe recipients on the
// smarthost, and when each may be tried next (docs/architecture.md §7). It is RAM only:
// the spool is the truth, and the queue is refilled from it at start, so
// pending work resumes after a restart. Temporary failures back off
// exponentially; a message that keeps failing past the maximum age expires
// (its sender gets a DSN).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "pigeon_limits.hpp"

namespace pigeon {

struct RetryPolicy {
  std::uint32_t initial_s = 60;
  std::uint32_t max_s = 3600;
  std::uint32_t max_age_s = 5 * 86400;

  // The wait after the n-th temporary failure (n >= 1): initial, doubling, capped.
  std::uint32_t backoff_s(std::uint32_t failed_attempts) const;
};

class DeliveryQueue {
 public:
  struct Entry {
    std::uint32_t message_id = 0;
    std::int64_t queued_at_s = 0;      // when the message was accepted
    std::int64_t next_attempt_s = 0;
    std::uint32_t failed_attempts = 0;
    bool in_flight = false;            // handed to a smarthost connection
    bool used = false;
  };
  enum class Deferral : std::uint8_t { retry_scheduled, expired };

  explicit DeliveryQueue(const RetryPolicy& policy) : policy_(policy) {}

  // A message with remote recipients, due at `next_attempt_s`, that has
  // failed `failed_attempts` times before (after a restart). False when the
  // queue is full (the message stays in the spool and is added at the next refill).
  bool add(std::uint32_t message_id, std::int64_t queued_at_s, std::int64_t next_attempt_s,
           std::uint32_t failed_attempts = 0);
  // The due message that has waited longest, now marked in flight.
  std::optional<std::uint32_t> take_due(std::int64_t now_s);
  // Every recipient has a final outcome (delivered, or bounced with a DSN).
  void finished(std::uint32_t message_id);
  // A temporary failure: schedule the next attempt, or expire the message.
  Deferral deferred(std::uint32_t message_id, std::int64_t now_s);
  // The connection ended before the message was tried: due again at once.
  void put_back(std::uint32_t message_id);

  // `pigeon flush`: every message not in flight is due at `now_s`, its backoff
  // kept for the next failure. Returns how many were waiting.
  std::size_t make_all_due(std::int64_t now_s);

  // The earliest next attempt of a message not in flight, for the loop's sleep.
  std::optional<std::int64_t> next_attempt_s() const;
  const Entry* find(std::uint32_t message_id) const;
  std::size_t size() const;

 private:
  Entry* lookup(std::uint32_t message_id);

  const RetryPolicy& policy_;
  std::array<Entry, PIGEON_DELIVERY_QUEUE_LENGTH> entries_{};
};

}  // namespace pigeon
