// The scheduler of relaying (docs/architecture.md §7): it learns from the spool which
// messages owe recipients to the smarthost (at start, so pending work resumes
// after a restart, and as new mail is committed), hands due messages to
// smarthost connections, records every recipient's outcome in the spool,
// backs off after temporary failures and writes a delivery status
// notification for permanent failures and expiry.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "delivery_queue.hpp"
#include "delivery_report.hpp"
#include "relay_services.hpp"
#include "smarthost_client.hpp"

namespace pigeon {

class DeliveryScheduler final : private SmarthostWork {
 public:
  DeliveryScheduler(RelayServices& services, SmarthostTlsClient& tls, HostResolver& resolver);

  // Relaying is on when a smarthost is configured.
  bool enabled() const { return !services_.config.smarthost.host.empty(); }
  // One bounded round of work; true when anything progressed.
  bool poll(std::uint64_t now_ms);
  // The next time poll() has timed work (a retry, a connection's timeout).
  std::uint64_t deadline_ms() const;
  void shut_down();

  const DeliveryQueue& queue() const { return queue_; }
  // Retry now (`pigeon flush`): every waiting message is due; returns how many.
  std::size_t flush() { return queue_.make_all_due(now_s()); }
  // The clock of the queue's times (DeliveryQueue::Entry::next_attempt_s).
  std::int64_t queue_time_s() const { return now_s(); }

 private:
  std::optional<OutboundMessage> take_message() override;
  void attempt_finished(const DeliveryAttempt& attempt) override;
  bool report_refusals(const DeliveryAttempt& attempt) override;
  void connection_failed(const SmarthostReply& reason) override;

  void discover_new_messages();
  bool enqueue(const OutboundMessage& message);
  bool start_connections();
  std::size_t connection_limit() const;
  std::size_t active_connections() const;
  std::optional<OutboundMessage> outbound(MessageId id);
  void record(MessageId id, const RecipientSet& mask, RecipientOutcome outcome);
  bool bounce(const BounceRequest& request);
  void defer(MessageId id, const RecipientSet& mask, const SmarthostReply& reason);
  void remember_attempt(MessageId id, const RecipientSet& mask, const DeliveryQueue::Entry& entry,
                        const SmarthostReply& reason);
  void expire(MessageId id, std::string_view reason);
  std::int64_t now_s() const { return static_cast<std::int64_t>(now_ms_ / 1000); }

  RelayServices& services_;
  SmarthostTlsClient& tls_;
  HostResolver& resolver_;
  RetryPolicy policy_;
  DeliveryQueue queue_;
  std::array<SmarthostClient, PIGEON_SMARTHOST_CONNECTIONS> clients_;
  MessageId discovered_up_to_ = 0;  // every outbound message up to this id is queued
  bool outcomes_unsynced_ = false;
  bool shutting_down_ = false;  // connections end because the relay stops: not a failure
  std::uint64_t now_ms_ = 0;
};

}  // namespace pigeon
