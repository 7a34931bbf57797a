#include "alert_spool_store.hpp"

#include "mail_routing.hpp"
#include "protocol/text_builder.hpp"

namespace pigeon {
namespace {

AlertStatus from_spool_status(SpoolStatus status) {
  if (status == SpoolStatus::full || status == SpoolStatus::too_many) return AlertStatus::spool_full;
  return AlertStatus::storage_error;
}

}  // namespace

SpoolAlertStore::SpoolAlertStore(RelayServices& services) : services_(services) {
  const RelayConfig& config = services.config;
  if (!config.alert_from.empty()) {
    from_.assign(config.alert_from.view());
  } else {
    std::array<char, 254> from{};
    from_.assign(protocol::TextBuilder(from).text("pigeon@").text(config.host_name.view()).view());
  }
}

AlertStatus SpoolAlertStore::store(protocol::AlertFields& fields) {
  const auto mailbox = mailbox_for_address(services_, fields.to);
  if (!mailbox) return AlertStatus::bad_address;
  const SpoolRecipient recipient{fields.to, *mailbox};
  const SpoolEnvelope envelope{from_.view(), {&recipient, 1}, false, spool_time_s(services_.clock)};
  SpoolWriter writer;
  if (const SpoolStatus status = services_.spool.open_message(envelope, writer); status != SpoolStatus::ok) {
    return from_spool_status(status);
  }
  const AlertStatus status = write(fields, writer);
  if (status != AlertStatus::sent) services_.spool.discard(writer);
  return status;
}

// Composes with the spool's id in the Message-ID (unique on this device), then
// commits and syncs: only a durable alert counts as sent.
AlertStatus SpoolAlertStore::write(protocol::AlertFields& fields, const SpoolWriter& writer) {
  std::array<char, 16> id{};
  const std::size_t id_length = format_message_id(writer.message_id(), id);
  std::array<char, 48> message_id{};
  fields.message_id = protocol::TextBuilder(message_id)
                          .text("alert.")
                          .text({id.data(), id_length})
                          .character('.')
                          .number(fields.unix_time_s)
                          .view();
  fields.from = from_.view();
  fields.host_name = services_.config.host_name.view();
  const protocol::AlertComposeResult composed = protocol::compose_alert(fields, message_);
  if (!composed.ok()) return alert_status_from(composed.status);
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(message_.data()), composed.length);
  SpoolStatus status = services_.spool.append(writer, bytes);
  if (status == SpoolStatus::ok) status = services_.spool.commit(writer);
  if (status != SpoolStatus::ok) return from_spool_status(status);
  if (services_.spool.sync() != SpoolStatus::ok) return AlertStatus::storage_error;
  services_.log.write(hal::LogLevel::info, "alert: message %u to <%.*s> stored",
                      static_cast<unsigned>(writer.message_id()),
                      static_cast<int>(fields.to.size()), fields.to.data());
  return AlertStatus::sent;
}

}  // namespace pigeon
