#include "delivery_scheduler.hpp"

#include <algorithm>

namespace pigeon {
namespace {

// Spool lookups per round while learning of new messages: bounded work per poll.
constexpr int max_discoveries_per_poll = 64;
constexpr std::uint64_t max_idle_ms = 1000;

RetryPolicy policy_from(const RelayConfig& config) {
  return {config.retry_initial_s, config.retry_max_s, config.max_queue_age_s};
}

}  // namespace

DeliveryScheduler::DeliveryScheduler(RelayServices& services, SmarthostTlsClient& tls, HostResolver& resolver)
    : services_(services), tls_(tls), resolver_(resolver), policy_(policy_from(services.config)), queue_(policy_) {}

bool DeliveryScheduler::poll(std::uint64_t now_ms) {
  now_ms_ = now_ms;
  if (!enabled()) return false;
  discover_new_messages();
  bool progressed = start_connections();
  for (SmarthostClient& client : clients_) progressed |= client.step(now_ms);
  // One flash sync for every outcome of the round; until then an outcome may
  // be lost, and the recipient is tried again: at least once, never lost.
  if (outcomes_unsynced_) {
    outcomes_unsynced_ = false;
    if (services_.spool.sync() != SpoolStatus::ok) services_.log.write(hal::LogLevel::error, "spool: flash sync failed");
  }
  return progressed;
}

// Messages get increasing ids when they are opened, but commit in any order:
// a slow client's message may commit after a later one was queued. So the
// cursor (everything up to it is queued) never passes a message still being
// written; what lies above such a message is looked at again each round and
// queued once. A message that did not fit in the queue is found again next
// round. (Before, a message that committed after a later-numbered one was
// never relayed until a restart: found by tools/simulate, home-router seed 3.)
// When the search runs out, the cursor passes what it walked over that only
// local mailboxes hold: otherwise every round walked all of them again, a
// thousand index entries per round while a POP3 client drained a thousand
// messages (a third of the relay's CPU then).
void DeliveryScheduler::discover_new_messages() {
  const MessageId newest_given = services_.spool.next_message_id() - 1;
  if (discovered_up_to_ >= newest_given) return;  // nothing opened since
  const std::optional<MessageId> open = services_.spool.oldest_open_message();
  MessageId after = discovered_up_to_;
  for (int i = 0; i < max_discoveries_per_poll; ++i) {
    const std::optional<OutboundMessage> message = services_.spool.next_outbound(after);
    if (!message) {
      discovered_up_to_ = std::max(discovered_up_to_, open ? *open - 1 : newest_given);
      return;
    }
    if (queue_.find(message->id) == nullptr && !enqueue(*message)) return;
    after = message->id;
    if (!open || message->id < *open) discovered_up_to_ = message->id;
  }
}

// The spool keeps arrival and retry times by the wall clock, the queue by the
// monotonic one: a message from before a restart keeps its age and backoff.
// Without a known wall time it counts from now.
bool DeliveryScheduler::enqueue(const OutboundMessage& message) {
  const std::int64_t wall_s = services_.clock.unix_time_s();
  const auto since = [wall_s](std::uint32_t then_s) {
    return wall_s > 0 && then_s != 0 ? wall_s - static_cast<std::int64_t>(then_s) : 0;
  };
  const std::int64_t age_s = std::max<std::int64_t>(0, since(message.arrived_s));
  const std::int64_t wait_s = std::max<std::int64_t>(0, -since(message.next_retry_s));
  if (!queue_.add(message.id, now_s() - age_s, now_s() + wait_s, message.attempts)) return false;
  if (message.attempts != 0) {
    services_.log.write(hal::LogLevel::info, "relay: message %u resumed after %u failed attempts; next retry in %lld s",
                        static_cast<unsigned>(message.id), static_cast<unsigned>(message.attempts),
                        static_cast<long long>(wait_s));
  }
  return true;
}

std::size_t DeliveryScheduler::connection_limit() const {
  return std::min<std::size_t>(services_.config.smarthost.connections, clients_.size());
}

bool DeliveryScheduler::start_connections() {
  const std::optional<std::int64_t> next = queue_.next_attempt_s();
  if (!next || *next > now_s() || active_connections() >= connection_limit()) return false;
  for (SmarthostClient& client : clients_) {
    if (client.active()) continue;
    client.start(services_, tls_, resolver_, *this, now_ms_);
    return true;  // one connection opened per round: the next round takes what this one leaves
  }
  return false;
}

std::size_t DeliveryScheduler::active_connections() const {
  return static_cast<std::size_t>(
      std::count_if(clients_.begin(), clients_.end(), [](const SmarthostClient& c) { return c.active(); }));
}

std::optional<OutboundMessage> DeliveryScheduler::take_message() {
  for (std::size_t tries = 0; tries < PIGEON_DELIVERY_QUEUE_LENGTH; ++tries) {
    const std::optional<std::uint32_t> id = queue_.take_due(now_s());
    if (!id) return std::nullopt;
    if (auto message = outbound(*id)) return message;
    queue_.finished(*id);  // nothing owed any more (or unreadable): drop it
  }
  return std::nullopt;
}

std::optional<OutboundMessage> DeliveryScheduler::outbound(MessageId id) {
  const std::optional<OutboundMessage> message = services_.spool.next_outbound(id - 1);
  if (!message || message->id != id) return std::nullopt;
  return message;
}

void DeliveryScheduler::attempt_finished(const DeliveryAttempt& attempt) {
  record(attempt.id, attempt.relayed_mask, RecipientOutcome::relayed);
  bool reported = true;
  if (attempt.refused_mask.any()) {
    reported = bounce({attempt.id, attempt.refused_mask, &attempt, {}, false});
  }
  if (attempt.deferred_mask().any() || !reported) {
    defer(attempt.id, attempt.deferred_mask() | (reported ? RecipientSet{} : attempt.refused_mask),
          attempt.last_temporary);
  } else {
    queue_.finished(attempt.id);
  }
}

bool DeliveryScheduler::report_refusals(const DeliveryAttempt& attempt) {
  return bounce({attempt.id, attempt.refused_mask, &attempt, {}, false});
}

// The smarthost could not be reached or refused the session: every message
// due now waits for its next retry, instead of a connection per message.
void DeliveryScheduler::connection_failed(const SmarthostReply& reason) {
  if (shutting_down_) return;
  for (std::size_t i = 0; i < PIGEON_DELIVERY_QUEUE_LENGTH; ++i) {
    const std::optional<std::uint32_t> id = queue_.take_due(now_s());
    if (!id) return;
    const std::optional<OutboundMessage> message = outbound(*id);
    defer(*id, message ? message->owed_remote_mask : RecipientSet{}, reason);
  }
}

void DeliveryScheduler::defer(MessageId id, const RecipientSet& mask, const SmarthostReply& reason) {
  // A stop is no attempt: after the restart the message is due at once.
  if (shutting_down_) return queue_.put_back(id);
  std::array<char, max_diagnostic_bytes> text{};
  const std::string_view diagnostic = reason.describe(text);
  if (queue_.deferred(id, now_s()) == DeliveryQueue::Deferral::expired) return expire(id, diagnostic);
  const DeliveryQueue::Entry* entry = queue_.find(id);
  remember_attempt(id, mask, *entry, reason);
  services_.log.write(hal::LogLevel::info, "relay: message %u deferred (attempt %u): %.*s; next retry in %lld s",
                      static_cast<unsigned>(id), static_cast<unsigned>(entry->failed_attempts),
                      static_cast<int>(diagnostic.size()), diagnostic.data(),
                      static_cast<long long>(entry->next_attempt_s - now_s()));
}

// On flash, so that the backoff survives a restart and the spool inspector
// shows why the mail waits. Synced with the round's outcomes.
void DeliveryScheduler::remember_attempt(MessageId id, const RecipientSet& mask, const DeliveryQueue::Entry& entry,
                                         const SmarthostReply& reason) {
  SpoolAttempt attempt;
  attempt.reply_code = reason.code;
  attempt.enhanced = reason.enhanced.view();
  attempt.text = reason.text.view();
  attempt.attempts = static_cast<std::uint16_t>(std::min<std::uint32_t>(entry.failed_attempts, UINT16_MAX));
  const std::uint32_t wall_s = spool_time_s(services_.clock);
  if (wall_s != 0) attempt.next_retry_s = wall_s + static_cast<std::uint32_t>(entry.next_attempt_s - now_s());
  if (services_.spool.record_attempt(id, mask, attempt) != SpoolStatus::ok) {
    services_.log.write(hal::LogLevel::warning, "relay: message %u: cannot record the attempt",
                        static_cast<unsigned>(id));
  }
  outcomes_unsynced_ = true;
}

// Past the maximum age: every recipient still owed is bounced.
void DeliveryScheduler::expire(MessageId id, std::string_view reason) {
  const std::optional<OutboundMessage> message = outbound(id);
  if (!message) return;
  services_.log.write(hal::LogLevel::warning, "relay: message %u expired after %u s: %.*s", static_cast<unsigned>(id),
                      static_cast<unsigned>(policy_.max_age_s), static_cast<int>(reason.size()), reason.data());
  if (!bounce({id, message->owed_remote_mask, nullptr, reason, true})) {
    // No room for the report now: keep the message, try again after a backoff.
    const std::int64_t later = now_s() + policy_.backoff_s(1);
    queue_.add(id, later - static_cast<std::int64_t>(policy_.max_age_s), later);
  }
}

// Writes the report, then records the recipients as bounced (in that order:
// a power cut between the two repeats the report, never loses it).
bool DeliveryScheduler::bounce(const BounceRequest& request) {
  const SpoolStatus status = write_delivery_report(services_, request);
  if (status != SpoolStatus::ok) {
    services_.log.write(hal::LogLevel::error, "relay: message %u: cannot store the delivery report",
                        static_cast<unsigned>(request.id));
    return false;
  }
  record(request.id, request.recipients_mask, RecipientOutcome::bounced);
  return true;
}

void DeliveryScheduler::record(MessageId id, const RecipientSet& mask, RecipientOutcome outcome) {
  for (std::uint8_t r = 0; r < PIGEON_MAX_RECIPIENTS; ++r) {
    if (!mask[r]) continue;
    const SpoolStatus status = services_.spool.mark_recipient(id, r, outcome);
    if (status == SpoolStatus::full) {
      services_.log.write(hal::LogLevel::warning,
                          "relay: message %u: spool full, recipient %u settled without its record (a power cut "
                          "may send it again)",
                          static_cast<unsigned>(id), static_cast<unsigned>(r));
    } else if (status != SpoolStatus::ok) {
      services_.log.write(hal::LogLevel::error, "relay: message %u: cannot record recipient %u",
                          static_cast<unsigned>(id), static_cast<unsigned>(r));
    }
    outcomes_unsynced_ = true;
  }
}

std::uint64_t DeliveryScheduler::deadline_ms() const {
  std::uint64_t next = now_ms_ + max_idle_ms;
  if (!enabled()) return next;
  for (const SmarthostClient& client : clients_) next = std::min(next, client.deadline_ms());
  // A due retry matters only when a connection could be opened for it.
  const auto retry = queue_.next_attempt_s();
  if (retry && active_connections() < connection_limit()) {
    next = std::min(next, static_cast<std::uint64_t>(std::max<std::int64_t>(*retry, 0)) * 1000);
  }
  return next;
}

void DeliveryScheduler::shut_down() {
  shutting_down_ = true;
  for (SmarthostClient& client : clients_) client.shut_down();
}

}  // namespace pigeon
