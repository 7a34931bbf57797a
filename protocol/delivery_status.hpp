// Delivery status notifications (RFC 3464, RFC 6522 multipart/report): the
// message a sender gets back when recipients failed permanently or their
// message expired. Written in parts, so that the caller can stream the
// original message's header section between them without holding it in RAM:
//
//   head()                 RFC 5322 header, the human-readable part's start
//   human_recipient() * n  one line per failed recipient
//   status_head()          message/delivery-status: per-message fields
//   status_recipient() * n per-recipient fields
//   headers_head()         text/rfc822-headers: then the original header lines
//   end()                  the closing boundary
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace pigeon::protocol {

struct DeliveryReport {
  std::string_view host_name;   // the reporting MTA; From is MAILER-DAEMON@ it
  std::string_view to;          // the original sender
  std::string_view report_id;   // unique: the Message-ID's left part and the boundary
  std::string_view remote_mta;  // the smarthost that answered; empty when none did
  std::int64_t unix_time_s = 0;
  bool expired = false;         // temporary failures past the maximum age
};

struct FailedRecipient {
  std::string_view address;
  // "550 5.1.1 text": the reply that refused it, or for an expired message
  // the last temporary one; may be empty.
  std::string_view diagnostic;
};

// Each returns the text written into `out`, empty when it does not fit.
class DeliveryStatusWriter {
 public:
  explicit DeliveryStatusWriter(const DeliveryReport& report) : report_(report) {}

  std::string_view head(std::span<char> out) const;
  std::string_view human_recipient(const FailedRecipient& recipient, std::span<char> out) const;
  std::string_view status_head(std::span<char> out) const;
  std::string_view status_recipient(const FailedRecipient& recipient, std::span<char> out) const;
  std::string_view headers_head(std::span<char> out) const;
  std::string_view end(std::span<char> out) const;

  // The RFC 3463 status for a recipient: the enhanced code in the diagnostic,
  // 4.4.7 for an expired message, else the reply's class with .0.0.
  std::string_view status_code(const FailedRecipient& recipient, std::span<char, 16> out) const;

 private:
  const DeliveryReport& report_;
};

}  // namespace pigeon::protocol
