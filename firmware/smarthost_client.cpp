#include "smarthost_client.hpp"

#include <algorithm>
#include <utility>

#include "ip_address.hpp"
#include "protocol/assert.hpp"
#include "protocol/text_builder.hpp"

namespace pigeon {
namespace {

using Wait = protocol::SmtpClient::Wait;

constexpr std::uint64_t ms_per_s = 1000;
constexpr std::uint64_t minute_ms = 60 * ms_per_s;
// Not in RFC 5321: how long a name lookup, a TCP connect or a TLS handshake may take.
constexpr std::uint64_t connect_timeout_ms = minute_ms;

// RFC 5321 §4.5.3.2: the client's timeouts for each step.
std::uint64_t rfc5321_timeout_ms(Wait wait) {
  switch (wait) {
    case Wait::data: return 2 * minute_ms;        // the 354 to DATA
    case Wait::data_block: return 3 * minute_ms;  // each TCP send of the body
    case Wait::data_end: return 10 * minute_ms;   // the reply to the final dot
    case Wait::tls_handshake: return connect_timeout_ms;
    default: return 5 * minute_ms;  // greeting, MAIL, RCPT and the other commands
  }
}

}  // namespace

SmarthostReply SmarthostReply::of(std::uint16_t code, std::string_view enhanced, std::string_view text) {
  SmarthostReply reply;
  reply.code = code;
  reply.enhanced.assign(enhanced);
  reply.text.assign(text.substr(0, max_text_bytes));
  return reply;
}

std::string_view SmarthostReply::describe(std::span<char, max_diagnostic_bytes> out) const {
  static_assert(max_diagnostic_bytes >= 3 + 1 + decltype(enhanced)::capacity() + 1 + max_text_bytes);
  protocol::TextBuilder line(out);
  if (code != 0) line.number(code).character(' ');
  if (!enhanced.empty()) line.text(enhanced.view()).character(' ');
  return line.text(text.view()).view();
}

bool RefusalTexts::add(std::uint8_t recipient, const SmarthostReply& reply) {
  const auto same = [&](const SmarthostReply& kept) {
    return kept.code == reply.code && kept.enhanced.view() == reply.enhanced.view() &&
           kept.text.view() == reply.text.view();
  };
  const auto begin = replies_.begin();
  auto slot = std::find_if(begin, begin + static_cast<std::ptrdiff_t>(used_), same);
  if (slot == begin + static_cast<std::ptrdiff_t>(used_)) {
    if (used_ == capacity) return false;
    *slot = reply;
    ++used_;
  }
  slot_of_[recipient] = static_cast<std::uint8_t>(slot - begin);
  return true;
}

hal::NetStatus LiteralResolver::resolve(std::string_view host_name, hal::IpAddress& out) {
  if (host_name == "localhost") host_name = "127.0.0.1";
  const auto address = parse_ip_address(host_name);
  if (!address) return hal::NetStatus::error;
  out = *address;
  return hal::NetStatus::ok;
}

bool SmarthostClient::start(RelayServices& services, SmarthostTlsClient& tls, HostResolver& resolver,
                            SmarthostWork& work, std::uint64_t now_ms) {
  services_ = &services;
  tls_ = &tls;
  resolver_ = &resolver;
  work_ = &work;
  ready_once_ = false;
  in_flight_ = false;
  last_activity_ms_ = now_ms;
  state_ = State::resolving;
  return step_resolving(now_ms);
}

bool SmarthostClient::step(std::uint64_t now_ms) {
  switch (state_) {
    case State::idle: return false;
    case State::resolving: return step_resolving(now_ms);
    case State::connecting: return step_connecting(now_ms);
    case State::open: return transport_.step(now_ms);
  }
  return false;
}

bool SmarthostClient::step_resolving(std::uint64_t now_ms) {
  const SmarthostConfig& smarthost = services_->config.smarthost;
  const hal::NetStatus resolved = resolver_->resolve(smarthost.host.view(), endpoint_.address);
  if (resolved == hal::NetStatus::would_block) {
    if (now_ms - last_activity_ms_ > timeout_ms()) fail("host name lookup timed out");
    return false;
  }
  if (resolved != hal::NetStatus::ok) {
    fail("host name does not resolve");
    return true;
  }
  endpoint_.port = smarthost.port;
  if (services_->net.connect(endpoint_, stream_) != hal::NetStatus::ok) {
    fail("cannot open a connection");
    return true;
  }
  state_ = State::connecting;
  last_activity_ms_ = now_ms;
  return true;
}

bool SmarthostClient::step_connecting(std::uint64_t now_ms) {
  if (services_->net.connected(stream_)) {
    open_session(now_ms);
    return true;
  }
  // An empty receive reports a refused or unreachable peer.
  std::uint8_t none = 0;
  const hal::IoResult probe = services_->net.receive(stream_, {&none, 0});
  if (probe.status == hal::NetStatus::refused || probe.status == hal::NetStatus::error) {
    fail("connection refused");
    return true;
  }
  if (now_ms - last_activity_ms_ > timeout_ms()) fail("connection timed out");
  return false;
}

bool SmarthostClient::implicit_tls() const { return services_->config.smarthost.tls == SmarthostTls::implicit; }

void SmarthostClient::open_session(std::uint64_t now_ms) {
  const SmarthostConfig& smarthost = services_->config.smarthost;
  // Pipelined commands and the end of data are small writes that must not
  // wait for Nagle's algorithm.
  services_->net.set_no_delay(stream_);
  protocol::SmtpClientSettings settings;
  settings.helo_name = services_->config.host_name.view();
  settings.starttls = smarthost.tls == SmarthostTls::starttls;
  settings.tls_active = implicit_tls();
  settings.user = smarthost.user.view();
  settings.password = smarthost.password.view();
  engine_.emplace(static_cast<protocol::SmtpClientEvents&>(*this), transport_.output(),
                  settings);
  state_ = State::open;
  const hal::StreamId stream = std::exchange(stream_, hal::invalid_id);  // the transport owns it now
  const TransportSetup setup{services_->net, services_->log, *tls_, "smarthost", implicit_tls()};
  transport_.start(setup, *engine_, *this, stream, endpoint_, now_ms);
}

// The next message when the engine is ready for one, then its commands and
// body as far as the output buffer takes them.
bool SmarthostClient::produce() {
  const std::size_t before = transport_.output().size();
  if (engine_->ready_for_message()) send_next_message();
  if (transport_.output().free_space() > 0) engine_->pump();
  return transport_.output().size() != before;
}

// What the scheduler and the log learn of a connection that ended early.
std::string_view SmarthostClient::failure(CloseReason reason) const {
  switch (reason) {
    case CloseReason::tls_handshake_failed: {
      const std::string_view refused = tls_->last_verify_failure();
      return refused.empty() ? "TLS handshake failed" : refused;
    }
    case CloseReason::tls_unavailable: return "no TLS session free";
    case CloseReason::idle_timeout:
    case CloseReason::goodbye_unread: return "smarthost timed out";
    case CloseReason::shut_down: return "relay shutting down";
    default: return "connection lost";
  }
}

void SmarthostClient::closed(CloseReason reason) {
  if (engine_->finished()) return close();
  fail(failure(reason));
}

void SmarthostClient::send_next_message() {
  ready_once_ = true;
  if (in_flight_) return;
  const std::optional<OutboundMessage> message = work_->take_message();
  if (!message) {
    engine_->quit();
    return;
  }
  attempt_ = {};
  attempt_.id = message->id;
  offered_mask_ = message->owed_remote_mask;
  attempt_.tried_mask = offered_mask_;
  in_flight_ = true;
  if (offered_mask_.none() || !load_sender()) {
    attempt_.last_temporary = SmarthostReply::of(451, "4.3.0", "envelope unreadable from the spool");
    end_attempt();
    return engine_->quit();
  }
  protocol::SmtpClientMessage outgoing;
  outgoing.reverse_path = sender_.data();
  outgoing.recipient_count = offered_mask_.count();
  outgoing.size_bytes = message->size_bytes;
  outgoing.body_8bit = message->body_8bit;
  engine_->send(outgoing);
}

bool SmarthostClient::load_sender() {
  const auto sender = services_->spool.read_sender(attempt_.id, {sender_.data(), sender_.size() - 1});
  if (!sender) return false;
  sender_[sender->size()] = '\0';
  return true;
}

// The engine's recipient `index` is the index-th recipient offered.
std::uint8_t SmarthostClient::spool_recipient(std::size_t index) const {
  PIGEON_ASSERT(index < offered_mask_.count());
  std::uint8_t r = 0;
  for (;; ++r) {
    if (offered_mask_[r] && index-- == 0) return r;
  }
}

std::optional<std::string_view> SmarthostClient::recipient_address(std::size_t index,
                                                                   std::span<char, protocol::max_path_bytes> out) {
  return services_->spool.read_recipient(attempt_.id, spool_recipient(index), out);
}

void SmarthostClient::recipient_result(std::size_t index, const protocol::SmtpClientReply& reply) {
  const std::uint8_t r = spool_recipient(index);
  const SmarthostReply answer = SmarthostReply::of(reply);
  log_result(r, answer);
  if (reply.positive()) {
    attempt_.relayed_mask[r] = true;
  } else if (reply.permanent()) {
    note_refusal(r, answer);
  } else {
    attempt_.last_temporary = answer;
  }
}

// Out of line: its buffers stay out of the frame under which note_refusal()
// may write a delivery report (the board's stack is 6 KiB).
[[gnu::noinline]] void SmarthostClient::log_result(std::uint8_t recipient, const SmarthostReply& answer) {
  std::array<char, max_diagnostic_bytes> text{};
  const std::string_view diagnostic = answer.describe(text);
  std::array<char, protocol::max_path_bytes> address_bytes{};
  const std::string_view address =
      services_->spool.read_recipient(attempt_.id, recipient, address_bytes).value_or("(address unreadable)");
  services_->log.write(hal::LogLevel::info, "relay: message %u to <%.*s>: %.*s",
                       static_cast<unsigned>(attempt_.id), static_cast<int>(address.size()), address.data(),
                       static_cast<int>(diagnostic.size()), diagnostic.data());
}

// A refusal whose text finds no slot first has the refusals so far reported
// in a delivery report of their own; they are then done with, and this
// attempt goes on with empty slots.
void SmarthostClient::note_refusal(std::uint8_t recipient, const SmarthostReply& reply) {
  if (!attempt_.refusals.add(recipient, reply)) {
    if (!work_->report_refusals(attempt_)) {
      // Not reported: they stay in tried_mask without a result, so they are deferred.
      if (attempt_.last_temporary.code == 0 && attempt_.last_temporary.text.empty()) {
        attempt_.last_temporary = SmarthostReply::local("no room for the delivery report");
      }
    } else {
      attempt_.tried_mask &= ~attempt_.refused_mask;
    }
    attempt_.refused_mask.reset();
    attempt_.refusals.clear();
    const bool kept = attempt_.refusals.add(recipient, reply);
    PIGEON_ASSERT(kept);  // every slot is free again
  }
  attempt_.refused_mask[recipient] = true;
}

void SmarthostClient::transaction_finished() { end_attempt(); }

void SmarthostClient::session_failed(const protocol::SmtpClientReply& reply) {
  const SmarthostReply failure = SmarthostReply::of(reply);
  std::array<char, max_diagnostic_bytes> text{};
  const std::string_view diagnostic = failure.describe(text);
  services_->log.write(hal::LogLevel::warning, "relay: smarthost session failed: %.*s",
                       static_cast<int>(diagnostic.size()), diagnostic.data());
  // The engine is finished; what the connection still owes is deferred.
  if (in_flight_) {
    attempt_.last_temporary = failure;
    end_attempt();
  } else if (!ready_once_) {
    work_->connection_failed(failure);
  }
}

std::optional<std::size_t> SmarthostClient::read_body(std::uint32_t offset, std::span<std::uint8_t> out) {
  return services_->spool.read(attempt_.id, offset, out);
}

// Reports the attempt; recipients without a result are deferred.
void SmarthostClient::end_attempt() {
  if (!in_flight_) return;
  in_flight_ = false;
  work_->attempt_finished(attempt_);
}

// The connection is over before it ended normally.
void SmarthostClient::fail(std::string_view reason) {
  const bool was_open = state_ == State::open;
  if (in_flight_) {
    services_->log.write(hal::LogLevel::warning, "relay: message %u: %.*s",
                         static_cast<unsigned>(attempt_.id),
                         static_cast<int>(reason.size()), reason.data());
    if (attempt_.deferred_mask().any()) attempt_.last_temporary = SmarthostReply::local(reason);
    end_attempt();
  } else if (!ready_once_ && !(was_open && engine_->finished())) {
    services_->log.write(hal::LogLevel::warning, "relay: smarthost %.*s port %u: %.*s",
                         static_cast<int>(services_->config.smarthost.host.view().size()),
                         services_->config.smarthost.host.view().data(), services_->config.smarthost.port,
                         static_cast<int>(reason.size()), reason.data());
    work_->connection_failed(SmarthostReply::local(reason));
  }
  close();
}

void SmarthostClient::close() {
  PIGEON_ASSERT(!transport_.active());
  if (stream_ != hal::invalid_id) services_->net.close(stream_);
  stream_ = hal::invalid_id;
  engine_.reset();
  state_ = State::idle;
}

void SmarthostClient::shut_down() {
  if (state_ == State::open) return transport_.shut_down();
  if (active()) fail("relay shutting down");
}

// A configured timeout replaces every step's own (short ones for tests).
std::uint64_t SmarthostClient::timeout_ms() const {
  const std::uint32_t configured_s = services_->config.smarthost.timeout_s;
  if (configured_s != 0) return configured_s * ms_per_s;
  if (state_ != State::open) return connect_timeout_ms;
  return rfc5321_timeout_ms(engine_->waiting_for());
}

std::uint64_t SmarthostClient::deadline_ms() const {
  if (!active()) return UINT64_MAX;
  if (state_ == State::open) return transport_.deadline_ms();
  return last_activity_ms_ + timeout_ms() + 1;
}

}  // namespace pigeon
