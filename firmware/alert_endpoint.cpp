#include "alert_endpoint.hpp"

#include <string_view>

#include "protocol/text_builder.hpp"

namespace pigeon {
namespace {

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
    case AlertStatus::busy: return "busy";
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

// A local command: a single word on the first line.
constexpr std::string_view submission_command = "SMTP";
constexpr std::string_view queue_command = "QUEUE";
constexpr std::string_view flush_command = "FLUSH";
constexpr std::string_view status_command = "STATUS";

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace

hal::NetStatus AlertEndpoint::start(std::uint16_t port) {
  hal::Endpoint local;
  local.address.bytes[0] = 127;
  local.address.bytes[3] = 1;
  local.port = port;
  return net_.listen(local, tcp_listener_);
}

void AlertEndpoint::serve_local(hal::ListenerId listener, LocalCommands& commands) {
  local_listener_ = listener;
  local_commands_ = &commands;
}

void AlertEndpoint::poll() {
  for (Client& client : clients_) {
    if (client.phase != Phase::free) serve(client);
  }
  if (tcp_listener_ != hal::invalid_id) accept_clients(tcp_listener_, false);
  if (local_listener_ != hal::invalid_id) accept_clients(local_listener_, true);
}

void AlertEndpoint::accept_clients(hal::ListenerId listener, bool local) {
  hal::StreamId stream = hal::invalid_id;
  hal::Endpoint peer;
  // A bounded number per round, as the relay's listeners.
  for (int round = 0; round < 4 && net_.accept(listener, stream, peer) == hal::NetStatus::ok; ++round) {
    Client* free = nullptr;
    for (Client& client : clients_) {
      if (client.phase == Phase::free && free == nullptr) free = &client;
    }
    if (free == nullptr) {
      refuse_busy(stream);
      continue;
    }
    *free = Client{};
    free->stream = stream;
    free->phase = Phase::reading;
    free->local = local;
    free->deadline_ms = clock_.monotonic_ms() + request_timeout_ms;
    serve(*free);
  }
}

// Every slot is taken: say so at once rather than leave the caller waiting.
// The request that already arrived is read first, because closing a socket
// with unread data resets it, and the reset could overtake the answer.
void AlertEndpoint::refuse_busy(hal::StreamId stream) {
  std::array<std::uint8_t, 512> discarded{};
  (void)net_.receive(stream, discarded);
  net_.send(stream, bytes_of("-8 busy\n"));
  log_.write(hal::LogLevel::warning, "alert endpoint: every slot is taken, answered busy");
  net_.close(stream);
}

void AlertEndpoint::serve(Client& client) {
  if (clock_.monotonic_ms() > client.deadline_ms) return release(client, true);
  if (client.phase == Phase::reading) return read_request(client);
  continue_listing(client);
}

void AlertEndpoint::read_request(Client& client) {
  const hal::IoResult result = net_.receive(
      client.stream, {reinterpret_cast<std::uint8_t*>(client.buffer.data()) + client.filled,
                      client.buffer.size() - client.filled});
  if (result.status == hal::NetStatus::would_block) return;
  if (result.status != hal::NetStatus::ok) return release(client, true);
  client.filled += result.bytes;
  const std::string_view text(client.buffer.data(), client.filled);
  const std::size_t end = text.find('\n');
  if (end != std::string_view::npos) return handle_request(client, {client.buffer.data(), end});
  if (client.filled == client.buffer.size()) answer(client, AlertStatus::too_long);
}

void AlertEndpoint::handle_request(Client& client, std::span<char> line) {
  if (!line.empty() && line.back() == '\r') line = line.first(line.size() - 1);
  if (client.local && handle_local_command(client, {line.data(), line.size()})) return;
  answer(client, handle_alert(line));
}

// True when `line` was a local command and was served.
bool AlertEndpoint::handle_local_command(Client& client, std::string_view line) {
  if (line == submission_command) {
    // The client waits for the greeting: nothing of its may follow the word.
    if (client.filled != line.size() + 1 && client.filled != line.size() + 2) {
      answer(client, "421 4.5.0 wait for the greeting\r\n");
      return true;
    }
    const hal::StreamId stream = client.stream;
    release(client, false);
    local_commands_->start_submission(stream, clock_.monotonic_ms());
    return true;
  }
  if (line == queue_command) {
    // Nothing more is read from a client that gets the listing: no wake-ups for its bytes.
    net_.set_receive_interest(client.stream, false);
    client.phase = Phase::listing;
    client.filled = client.sent = 0;
    continue_listing(client);
    return true;
  }
  if (line == flush_command) {
    std::array<char, 32> reply{};
    protocol::TextBuilder text(reply);
    text.text("flushed ").number(static_cast<std::int64_t>(local_commands_->flush_queue())).character('\n');
    log_.write(hal::LogLevel::info, "local socket: %.*s", static_cast<int>(text.view().size() - 1), reply.data());
    answer(client, text.view());
    return true;
  }
  if (line == status_command) {
    // The request is read: its buffer holds the answer (a status fits in it).
    answer(client, {client.buffer.data(), local_commands_->write_status(client.buffer)});
    return true;
  }
  return false;
}

// Sends the listing a buffer at a time; a client that reads keeps its slot.
void AlertEndpoint::continue_listing(Client& client) {
  while (true) {
    if (client.sent == client.filled) {
      if (client.cursor.finished) return release(client, true);
      client.filled = local_commands_->list_queue(client.cursor, client.buffer);
      client.sent = 0;
      continue;
    }
    const hal::IoResult result =
        net_.send(client.stream, bytes_of({client.buffer.data() + client.sent, client.filled - client.sent}));
    if (result.status == hal::NetStatus::would_block || (result.status == hal::NetStatus::ok && result.bytes == 0)) {
      return;
    }
    if (result.status != hal::NetStatus::ok) return release(client, true);
    client.sent += result.bytes;
    client.deadline_ms = clock_.monotonic_ms() + request_timeout_ms;
  }
}

AlertStatus AlertEndpoint::handle_alert(std::span<char> line) {
  std::span<char> rest = line;
  const std::string_view key = next_field(rest);
  const std::string_view to = next_field(rest);
  const std::string_view subject = next_field(rest);
  const std::string_view body(rest.data(), unescape(rest));
  return alerts_.send(to, subject, body, key, clock_.unix_time_s());
}

void AlertEndpoint::answer(Client& client, AlertStatus status) {
  std::array<char, 32> reply{};
  protocol::TextBuilder text(reply);
  text.number(static_cast<int>(status)).character(' ').text(status_name(status)).character('\n');
  log_.write(hal::LogLevel::info, "alert endpoint: %s", status_name(status));
  answer(client, text.view());
}

// A one-line answer, then close: the close sends it first.
void AlertEndpoint::answer(Client& client, std::string_view reply) {
  net_.send(client.stream, bytes_of(reply));
  release(client, true);
}

void AlertEndpoint::release(Client& client, bool close_stream) {
  if (close_stream) net_.close(client.stream);
  client.stream = hal::invalid_id;
  client.phase = Phase::free;
}

}  // namespace pigeon
