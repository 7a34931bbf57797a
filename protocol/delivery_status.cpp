#include "delivery_status.hpp"

#include <array>

#include "ascii.hpp"
#include "rfc5322.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol {
namespace {

using ascii::is_digit;

// The boundary cannot occur in the parts: they are our own text, and header
// lines never start with "--=_".
TextBuilder& boundary(TextBuilder& out, const DeliveryReport& report) {
  return out.text("=_pigeon_report_").text(report.report_id);
}

TextBuilder& part_start(TextBuilder& out, const DeliveryReport& report, std::string_view content_type) {
  out.text("\r\n--");
  return boundary(out, report).text("\r\nContent-Type: ").text(content_type).text("\r\n\r\n");
}

// "550 5.1.1 text" -> "5.1.1", when the second word is a status of the reply's class.
std::string_view enhanced_code(std::string_view diagnostic) {
  if (diagnostic.size() < 9 || !is_digit(diagnostic[0]) || diagnostic[3] != ' ') return {};
  const std::string_view rest = diagnostic.substr(4);
  const std::string_view word = rest.substr(0, rest.find(' '));
  if (word.size() < 5 || word[0] != diagnostic[0] || word[1] != '.') return {};
  for (char c : word) {
    if (!is_digit(c) && c != '.') return {};
  }
  return word;
}

}  // namespace

std::string_view DeliveryStatusWriter::head(std::span<char> out) const {
  std::array<char, 32> date{};
  TextBuilder text(out);
  text.text("Date: ").text(format_date(report_.unix_time_s, date)).text("\r\n");
  text.text("From: Mail Delivery System <MAILER-DAEMON@").text(report_.host_name).text(">\r\n");
  text.text("To: <").text(report_.to).text(">\r\n");
  text.text(report_.expired ? "Subject: Undelivered mail: delivery time expired\r\n"
                            : "Subject: Undelivered mail returned to sender\r\n");
  text.text("Message-ID: <report.").text(report_.report_id).character('@').text(report_.host_name).text(">\r\n");
  // RFC 3834 §5: an automatic reply, which responders must not answer.
  text.text("Auto-Submitted: auto-replied\r\n");
  text.text("MIME-Version: 1.0\r\n");
  text.text("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"");
  boundary(text, report_).text("\"\r\n\r\n");
  text.text("This is a delivery status notification in MIME format.\r\n");
  part_start(text, report_, "text/plain; charset=us-ascii");
  text.text("This is the mail system at ").text(report_.host_name).text(".\r\n\r\n");
  text.text(report_.expired ? "Your message could not be delivered in time; the mail system gave up on\r\n"
                            : "Your message could not be delivered to one or more recipients:\r\n");
  if (report_.expired) text.text("these recipients:\r\n");
  text.text("\r\n");
  return text.view();
}

std::string_view DeliveryStatusWriter::human_recipient(const FailedRecipient& recipient, std::span<char> out) const {
  TextBuilder text(out);
  text.text("  <").text(recipient.address).text(">");
  if (!recipient.diagnostic.empty()) text.text(": ").text(recipient.diagnostic);
  return text.text("\r\n").view();
}

std::string_view DeliveryStatusWriter::status_head(std::span<char> out) const {
  TextBuilder text(out);
  part_start(text, report_, "message/delivery-status");
  return text.text("Reporting-MTA: dns; ").text(report_.host_name).text("\r\n").view();
}

std::string_view DeliveryStatusWriter::status_recipient(const FailedRecipient& recipient, std::span<char> out) const {
  std::array<char, 16> status{};
  TextBuilder text(out);
  // Each recipient's fields are a block after an empty line (RFC 3464 §2.1).
  text.text("\r\nFinal-Recipient: rfc822; ").text(recipient.address).text("\r\n");
  text.text("Action: failed\r\n");
  text.text("Status: ").text(status_code(recipient, status)).text("\r\n");
  if (!report_.remote_mta.empty()) text.text("Remote-MTA: dns; ").text(report_.remote_mta).text("\r\n");
  if (!recipient.diagnostic.empty()) {
    // "smtp;" promises an SMTP reply (RFC 3464 §2.3.6); a local reason such as
    // a refused connection gets pigeon's own diagnostic type.
    const bool smtp_reply = recipient.diagnostic.size() >= 4 && is_digit(recipient.diagnostic[0]) &&
                            is_digit(recipient.diagnostic[1]) && is_digit(recipient.diagnostic[2]) &&
                            recipient.diagnostic[3] == ' ';
    text.text("Diagnostic-Code: ").text(smtp_reply ? "smtp; " : "X-pigeon; ").text(recipient.diagnostic).text("\r\n");
  }
  return text.view();
}

std::string_view DeliveryStatusWriter::headers_head(std::span<char> out) const {
  TextBuilder text(out);
  return part_start(text, report_, "text/rfc822-headers").view();
}

std::string_view DeliveryStatusWriter::end(std::span<char> out) const {
  TextBuilder text(out);
  text.text("\r\n--");
  return boundary(text, report_).text("--\r\n").view();
}

std::string_view DeliveryStatusWriter::status_code(const FailedRecipient& recipient, std::span<char, 16> out) const {
  if (report_.expired) return "4.4.7";
  const std::string_view enhanced = enhanced_code(recipient.diagnostic);
  if (!enhanced.empty() && enhanced.size() <= out.size()) return enhanced;
  const char class_digit = !recipient.diagnostic.empty() && is_digit(recipient.diagnostic[0]) ? recipient.diagnostic[0] : '5';
  TextBuilder text(out);
  return text.character(class_digit).text(".0.0").view();
}

}  // namespace pigeon::protocol
