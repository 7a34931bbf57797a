#include "delivery_report.hpp"

#include <array>

#include "mail_routing.hpp"
#include "protocol/delivery_status.hpp"
#include "protocol/mailbox_address.hpp"
#include "protocol/text_builder.hpp"

namespace pigeon {
namespace {

// The original header section quoted in a report stops here (a loop of
// Received headers would otherwise fill the spool).
constexpr std::uint32_t max_quoted_header_bytes = 16 * 1024;

// The one pass over the failed recipients that each report section needs.
using RecipientText = std::string_view (protocol::DeliveryStatusWriter::*)(const protocol::FailedRecipient&,
                                                                           std::span<char>) const;

class ReportWriter {
 public:
  ReportWriter(RelayServices& services, const BounceRequest& request, const protocol::DeliveryReport& report)
      : services_(services), request_(request), writer_(report) {}

  SpoolStatus write(std::string_view mailbox, std::string_view to) {
    const SpoolRecipient recipient{to, mailbox};
    const SpoolEnvelope envelope{"", {&recipient, 1}, false, spool_time_s(services_.clock)};
    if (const SpoolStatus status = services_.spool.open_message(envelope, spool_writer_); status != SpoolStatus::ok) {
      return status;
    }
    const SpoolStatus status = write_parts();
    if (status != SpoolStatus::ok) {
      services_.spool.discard(spool_writer_);
      return status;
    }
    return services_.spool.commit(spool_writer_);
  }

 private:
  SpoolStatus write_parts() {
    std::array<char, 1024> text{};
    SpoolStatus status = append(writer_.head(text));
    if (status == SpoolStatus::ok) status = for_each_recipient(&protocol::DeliveryStatusWriter::human_recipient);
    if (status == SpoolStatus::ok) status = append(writer_.status_head(text));
    if (status == SpoolStatus::ok) status = for_each_recipient(&protocol::DeliveryStatusWriter::status_recipient);
    if (status == SpoolStatus::ok) status = append(writer_.headers_head(text));
    if (status == SpoolStatus::ok) status = append_original_headers();
    if (status == SpoolStatus::ok) status = append(writer_.end(text));
    return status;
  }

  SpoolStatus for_each_recipient(RecipientText section) {
    std::array<char, protocol::max_path_bytes> address{};
    std::array<char, 1024> text{};
    for (std::uint8_t r = 0; r < PIGEON_MAX_RECIPIENTS; ++r) {
      if (!request_.recipients_mask[r]) continue;
      const auto recipient = services_.spool.read_recipient(request_.id, r, address);
      if (!recipient) return SpoolStatus::corrupt;
      std::array<char, max_diagnostic_bytes> refusal{};
      const std::string_view diagnostic =
          request_.attempt != nullptr ? request_.attempt->refusals.of(r).describe(refusal) : request_.expiry_diagnostic;
      const SpoolStatus status = append((writer_.*section)({*recipient, diagnostic}, text));
      if (status != SpoolStatus::ok) return status;
    }
    return SpoolStatus::ok;
  }

  // Copies whole header lines up to the empty line that ends the header
  // section; a line cut by a piece is read again from its start.
  SpoolStatus append_original_headers() {
    std::array<std::uint8_t, 512> piece{};
    std::uint32_t offset = 0;
    while (offset < max_quoted_header_bytes) {
      const std::optional<std::size_t> read = services_.spool.read(request_.id, offset, piece);
      if (!read) return SpoolStatus::flash_error;
      const std::size_t length = *read;
      if (length == 0) return SpoolStatus::ok;
      std::size_t line_start = 0;
      for (std::size_t i = 0; i < length; ++i) {
        if (piece[i] != '\n') continue;
        if (i - line_start <= 1) return append_bytes({piece.data(), line_start});  // the empty line
        line_start = i + 1;
      }
      // A line longer than a piece goes out in pieces.
      const std::size_t whole = line_start == 0 ? length : line_start;
      if (const SpoolStatus status = append_bytes({piece.data(), whole}); status != SpoolStatus::ok) return status;
      offset += static_cast<std::uint32_t>(whole);
    }
    return SpoolStatus::ok;
  }

  SpoolStatus append(std::string_view text) {
    if (text.empty()) return SpoolStatus::full;  // a part did not fit its buffer
    return append_bytes({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }

  SpoolStatus append_bytes(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return SpoolStatus::ok;
    return services_.spool.append(spool_writer_, bytes);
  }

  RelayServices& services_;
  const BounceRequest& request_;
  protocol::DeliveryStatusWriter writer_;
  SpoolWriter spool_writer_;
};

}  // namespace

SpoolStatus write_delivery_report(RelayServices& services, const BounceRequest& request) {
  std::array<char, protocol::max_path_bytes> sender_storage{};
  const auto sender = services.spool.read_sender(request.id, sender_storage);
  if (!sender) return SpoolStatus::corrupt;
  if (sender->empty()) {
    services.log.write(hal::LogLevel::info, "relay: message %u failed; no report for the null sender",
                       static_cast<unsigned>(request.id));
    return SpoolStatus::ok;
  }
  const auto mailbox = mailbox_for_address(services, *sender);
  if (!mailbox) {
    services.log.write(hal::LogLevel::warning, "relay: message %u failed; no mailbox for the report to <%.*s>",
                       static_cast<unsigned>(request.id), static_cast<int>(sender->size()), sender->data());
    return SpoolStatus::ok;
  }
  protocol::DeliveryReport report;
  report.unix_time_s = services.clock.unix_time_s();
  // Unique even when one message fails in several attempts: the id and the time.
  std::array<char, 16> id{};
  const std::size_t id_length = format_message_id(request.id, id);
  std::array<char, 48> report_id{};
  report.report_id =
      protocol::TextBuilder(report_id).text({id.data(), id_length}).character('.').number(report.unix_time_s).view();
  report.host_name = services.config.host_name.view();
  report.to = *sender;
  report.remote_mta = services.config.smarthost.host.view();
  report.expired = request.expired;
  const SpoolStatus status = ReportWriter(services, request, report).write(*mailbox, *sender);
  if (status == SpoolStatus::ok) {
    services.log.write(hal::LogLevel::info, "relay: message %u failed; report to <%.*s> queued",
                       static_cast<unsigned>(request.id),
                       static_cast<int>(sender->size()), sender->data());
  }
  return status;
}

}  // namespace pigeon
