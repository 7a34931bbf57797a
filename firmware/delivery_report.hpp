// Writes the delivery status notification (RFC 3464) for recipients that failed
// permanently or expired into the spool, like any other message: to the local
// mailbox when the sender is local, else out through the smarthost. It is sent
// from the null sender <>, so a report can never cause another one, and the
// original header section is streamed from the spool, never held whole.
#pragma once

#include <cstdint>
#include <string_view>

#include "relay_services.hpp"
#include "smarthost_client.hpp"

namespace pigeon {

struct BounceRequest {
  MessageId id = 0;
  RecipientSet recipients_mask;  // spool recipient indexes that failed
  // Per-recipient diagnostics of the attempt that refused them; nullptr for
  // an expired message, whose recipients all get `expiry_diagnostic`.
  const DeliveryAttempt* attempt = nullptr;
  std::string_view expiry_diagnostic;
  bool expired = false;
};

// ok when the report is committed, or when none is due (null sender, or a local
// sender without a mailbox; both logged). Durable after the next Spool::sync().
SpoolStatus write_delivery_report(RelayServices& services, const BounceRequest& request);

}  // namespace pigeon
