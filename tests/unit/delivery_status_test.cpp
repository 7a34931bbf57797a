// The per-recipient fields of a delivery status notification (RFC 3464 §2.3).
#include "protocol/delivery_status.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace pigeon::protocol {
namespace {

std::string recipient_fields(const DeliveryReport& report, const FailedRecipient& recipient) {
  std::array<char, 512> out{};
  return std::string(DeliveryStatusWriter(report).status_recipient(recipient, out));
}

TEST(DeliveryStatus, SmtpRepliesAreSmtpDiagnostics) {
  DeliveryReport report;
  report.remote_mta = "smarthost.example";
  EXPECT_EQ(recipient_fields(report, {"carol@example.org", "550 5.1.1 no such user"}),
            "\r\nFinal-Recipient: rfc822; carol@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "Remote-MTA: dns; smarthost.example\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n");
}

TEST(DeliveryStatus, LocalReasonsAreNotPassedOffAsSmtpReplies) {
  DeliveryReport report;
  report.expired = true;
  EXPECT_EQ(recipient_fields(report, {"carol@example.org", "connection refused"}),
            "\r\nFinal-Recipient: rfc822; carol@example.org\r\nAction: failed\r\nStatus: 4.4.7\r\n"
            "Diagnostic-Code: X-pigeon; connection refused\r\n");
}

}  // namespace
}  // namespace pigeon::protocol
