// The relay's queue as text, for `mailq` / `pigeon queue` on the host's local
// socket (docs/routers.md), in the spirit of `postqueue -p`: each message that
// still owes recipients to the smarthost with its size, age and sender, then
// each of those recipients with its state, failed attempts and next retry.
// Written a line at a time into a small buffer, so a long queue needs no more
// memory than a short one.
#pragma once

#include <cstdint>
#include <span>

#include "delivery_queue.hpp"
#include "spool.hpp"

namespace pigeon {

// Where the listing stands between calls.
struct QueueCursor {
  MessageId done_up_to = 0;          // every message up to this id is listed
  MessageId current = 0;             // the message being listed; 0 before the first
  std::uint16_t next_recipient = 0;  // its next recipient to look at
  bool message_line_done = false;
  std::uint32_t listed = 0;          // messages listed so far
  bool finished = false;             // the closing line is written
};

struct QueueTimes {
  std::int64_t queue_s = 0;  // now on the DeliveryQueue's clock
  std::int64_t unix_s = 0;   // the wall clock, for arrival times on flash
};

// Appends whole lines after `cursor` until `out` is full or the listing ends
// with its closing line; returns the bytes written (0 once finished). `out`
// must hold the longest line (queue_line_bytes).
std::size_t list_queue(Spool& spool, const DeliveryQueue& queue, const QueueTimes& now, QueueCursor& cursor,
                       std::span<char> out);

inline constexpr std::size_t queue_line_bytes = 400;

}  // namespace pigeon
