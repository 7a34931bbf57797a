#include "alert_endpoint.hpp"

#include <string_view>

#include "protocol/text_builder.hpp"

namespace pigeon {
namespace {

// A client that does not finish its request in this time is dropped, so it
// cannot hold the endpoint.
constexpr std::uint64_t request_timeout_ms = 5000;

const char* status_name(AlertStatus status) {
  switch (status) {
    case AlertStatus::sent: return "sent";
    case AlertStatus::coalesced: return "coalesced";
    case AlertStatus::rate_limited: return "rate_limited";
    case AlertStatus::header_injection: return "header_injection";
    case AlertStatus::bad_address: return "bad_address";
    case AlertStatus::bad_text: return "bad_text";
    case AlertStatus::too_long: return "too_long";
    case AlertStatus::spool_full: return "spool_full";
    case AlertStatus::storage_error: return "storage_error";
    case AlertStatus::not_ready: return "not_ready";
  }
  return "unknown";
}

// Undoes the body's escapes in place; returns the new length.
std::size_t unescape(std::span<char> text) {
  std::size_t out = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      c = text[++i] == 'n' ? '\n' : text[i];
    }
    text[out++] = c;
  }
  return out;
}

// Cuts the next TAB-separated field off the front of `rest`.
std::string_view next_field(std::span<char>& rest) {
  std::size_t end = 0;
  while (end < rest.size() && rest[end] != '\t') ++end;
  const std::string_view field(rest.data(), end);
  rest = rest.subspan(end < rest.size() ? end + 1 : end);
  return field;
}

}  // namespace

hal::NetStatus AlertEndpoint::start(std::uint16_t port) {
  hal::Endpoint local;
  local.address.bytes[0] = 127;
  local.address.bytes[3] = 1;
  local.port = port;
  return net_.listen(local, listener_);
}

void AlertEndpoint::poll() {
  if (listener_ == hal::invalid_id) return;
  if (stream_ == hal::invalid_id) return accept_request();
  if (clock_.monotonic_ms() - accepted_at_ms_ > request_timeout_ms) {
    net_.close(stream_);
    stream_ = hal::invalid_id;
    return;
  }
  read_request();
}

void AlertEndpoint::accept_request() {
  hal::Endpoint peer;
  if (net_.accept(listener_, stream_, peer) != hal::NetStatus::ok) return;
  accepted_at_ms_ = clock_.monotonic_ms();
  received_ = 0;
  read_request();
}

void AlertEndpoint::read_request() {
  const hal::IoResult result = net_.receive(
      stream_, {reinterpret_cast<std::uint8_t*>(request_.data()) + received_, request_.size() - received_});
  if (result.status == hal::NetStatus::would_block) return;
  if (result.status != hal::NetStatus::ok) {
    net_.close(stream_);
    stream_ = hal::invalid_id;
    return;
  }
  received_ += result.bytes;
  const std::string_view text(request_.data(), received_);
  const std::size_t end = text.find('\n');
  if (end != std::string_view::npos) return answer(handle({request_.data(), end}));
  if (received_ == request_.size()) answer(AlertStatus::too_long);
}

AlertStatus AlertEndpoint::handle(std::span<char> line) {
  if (!line.empty() && line.back() == '\r') line = line.first(line.size() - 1);
  std::span<char> rest = line;
  const std::string_view key = next_field(rest);
  const std::string_view to = next_field(rest);
  const std::string_view subject = next_field(rest);
  const std::string_view body(rest.data(), unescape(rest));
  return alerts_.send(to, subject, body, key, clock_.unix_time_s());
}

void AlertEndpoint::answer(AlertStatus status) {
  std::array<char, 32> reply{};
  protocol::TextBuilder text(reply);
  text.number(static_cast<int>(status)).character(' ').text(status_name(status)).character('\n');
  net_.send(stream_, {reinterpret_cast<const std::uint8_t*>(reply.data()), text.view().size()});
  log_.write(hal::LogLevel::info, "alert endpoint: %s", status_name(status));
  net_.close(stream_);
  stream_ = hal::invalid_id;
}

}  // namespace pigeon
