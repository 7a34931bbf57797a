#include "queue_listing.hpp"

#include <array>
#include <optional>
#include <string_view>

#include "protocol/text_builder.hpp"

namespace pigeon {
namespace {

using protocol::TextBuilder;

// "17 1234 bytes, queued 300 s ago, from <alice@example.com>"
void message_line(Spool& spool, const OutboundMessage& message, const QueueTimes& now, TextBuilder& line) {
  std::array<char, 256> sender_storage{};
  const std::string_view sender = spool.read_sender(message.id, sender_storage).value_or("?");
  line.number(message.id).character(' ').number(message.size_bytes).text(" bytes, ");
  if (message.arrived_s != 0 && now.unix_s >= message.arrived_s) {
    line.text("queued ").number(now.unix_s - message.arrived_s).text(" s ago, ");
  }
  line.text("from <").text(sender).text(">\n");
}

// "  <bob@example.net> waiting, 2 failed attempts, next retry in 240 s"
void recipient_line(Spool& spool, const OutboundMessage& message, std::uint8_t index,
                    const DeliveryQueue::Entry* entry, const QueueTimes& now, TextBuilder& line) {
  std::array<char, 256> address_storage{};
  const std::string_view address = spool.read_recipient(message.id, index, address_storage).value_or("?");
  line.text("  <").text(address).text("> ");
  if (entry == nullptr) {
    // The RAM queue was full; the scheduler takes it at its next refill.
    line.text("waiting for room in the delivery queue");
  } else if (entry->in_flight) {
    line.text("being sent now");
  } else {
    line.text("waiting, ").number(entry->failed_attempts).text(" failed attempts, ");
    if (entry->next_attempt_s <= now.queue_s) {
      line.text("due now");
    } else {
      line.text("next retry in ").number(entry->next_attempt_s - now.queue_s).text(" s");
    }
  }
  line.character('\n');
}

void closing_line(std::uint32_t listed, TextBuilder& line) {
  if (listed == 0) {
    line.text("Mail queue is empty\n");
  } else {
    line.text("-- ").number(listed).text(listed == 1 ? " message" : " messages").text(" in the queue\n");
  }
}

// The next line of the listing into `line`; false when the cursor's message is
// done and the next one must be fetched.
bool next_line(Spool& spool, const DeliveryQueue& queue, const OutboundMessage& message, const QueueTimes& now,
               QueueCursor& cursor, TextBuilder& line) {
  if (!cursor.message_line_done) {
    message_line(spool, message, now, line);
    return true;
  }
  for (; cursor.next_recipient < message.recipient_count; ++cursor.next_recipient) {
    if (!message.owed_remote_mask[cursor.next_recipient]) continue;
    recipient_line(spool, message, static_cast<std::uint8_t>(cursor.next_recipient), queue.find(message.id), now,
                   line);
    return true;
  }
  return false;
}

// Marks the line just written as done.
void advance(QueueCursor& cursor) {
  if (!cursor.message_line_done) {
    cursor.message_line_done = true;
    ++cursor.listed;
  } else {
    ++cursor.next_recipient;
  }
}

}  // namespace

std::size_t list_queue(Spool& spool, const DeliveryQueue& queue, const QueueTimes& now, QueueCursor& cursor,
                       std::span<char> out) {
  std::size_t used = 0;
  while (!cursor.finished) {
    TextBuilder line(out.subspan(used));
    // The message being listed, or the next one when it left the queue meanwhile.
    const std::optional<OutboundMessage> message = spool.next_outbound(cursor.done_up_to);
    if (message && message->id != cursor.current) {
      cursor.current = message->id;
      cursor.next_recipient = 0;
      cursor.message_line_done = false;
    }
    if (!message) {
      closing_line(cursor.listed, line);
    } else if (!next_line(spool, queue, *message, now, cursor, line)) {
      cursor.done_up_to = message->id;
      continue;
    }
    if (!line.ok()) break;
    used += line.view().size();
    if (message) {
      advance(cursor);
    } else {
      cursor.finished = true;
    }
  }
  return used;
}

}  // namespace pigeon
