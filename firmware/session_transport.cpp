#include "session_transport.hpp"

#include <algorithm>
#include <array>

#include "ip_address.hpp"
#include "protocol/assert.hpp"

namespace pigeon {
namespace {

const char* describe(CloseReason reason) {
  switch (reason) {
    case CloseReason::none: break;
    case CloseReason::done: return "session ended";
    case CloseReason::peer_closed: return "peer closed the connection";
    case CloseReason::network_error: return "connection failed";
    case CloseReason::tls_handshake_failed: return "TLS handshake failed";
    case CloseReason::tls_error: return "TLS failed";
    case CloseReason::tls_unavailable: return "no TLS session free";
    case CloseReason::idle_timeout: return "idle timeout";
    case CloseReason::opening_timeout: return "handshake timeout";
    case CloseReason::evicted: return "evicted for a new client";
    case CloseReason::goodbye_unread: return "idle timeout, peer does not read its replies";
    case CloseReason::time_limit: return "time limit reached";
    case CloseReason::shut_down: return "relay shutting down";
  }
  PIGEON_UNREACHABLE();
}

std::uint64_t deadline_after(std::uint64_t now_ms, std::uint64_t limit_ms) {
  return limit_ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + limit_ms;
}

bool is_tls_failure(CloseReason reason) {
  return reason == CloseReason::tls_handshake_failed || reason == CloseReason::tls_error;
}

}  // namespace

void SessionTransport::start(const TransportSetup& setup, protocol::SessionEngine& engine, SessionHooks& hooks,
                             hal::StreamId stream, const hal::Endpoint& peer, std::uint64_t now_ms) {
  PIGEON_ASSERT(!active());
  engine_ = &engine;
  hooks_ = &hooks;
  log_ = &setup.log;
  tls_ = &setup.tls;
  log_name_ = setup.log_name;
  implicit_tls_ = setup.implicit_tls;
  goodbye_ = CloseReason::none;
  last_activity_ms_ = now_ms;
  timer_at_ms_ = UINT64_MAX;
  opening_limit_ms_ = setup.opening_limit_ms;
  opening_deadline_ms_ = deadline_after(now_ms, opening_limit_ms_);
  connection_.open(setup.net, stream, peer);
  if (!implicit_tls_) return hooks_->greet();
  // Without a TLS session nothing can be said to a peer that speaks TLS from
  // its first byte, so it is closed, as Relay::refuse() does.
  if (!connection_.start_tls(*tls_)) close(CloseReason::tls_unavailable);
}

// One round: bytes in, the handshake, the session's timer, the engine, the
// STARTTLS hand-off, bytes out; then whether the session is over.
bool SessionTransport::step(std::uint64_t now_ms) {
  if (!active()) return false;
  bool progressed = connection_.pump(!engine_->awaiting_tls());
  if (connection_.take_handshake_done()) {
    if (implicit_tls_) {
      hooks_->greet();
    } else {
      engine_->tls_started();
    }
  }
  if (now_ms >= timer_at_ms_) {
    timer_at_ms_ = UINT64_MAX;
    hooks_->timer_expired();
  }
  if (now_ms >= opening_deadline_ms_) {
    give_up_opening();
    if (!active()) return true;
  }
  progressed |= feed_engine();
  progressed |= hand_over_to_tls(now_ms);
  if (!active()) return true;
  progressed |= connection_.pump(!engine_->awaiting_tls());
  progressed |= hooks_->working();
  if (progressed) last_activity_ms_ = now_ms;

  if (engine_->finished() && connection_.output_drained()) {
    close(goodbye_ != CloseReason::none ? goodbye_ : CloseReason::done);
    return true;
  }
  if (connection_.lost() != CloseReason::none) {
    close(connection_.lost());
    return true;
  }
  // A half-close ends the session only once everything the peer sent before
  // it is answered and the answers are sent (docs/architecture.md §3).
  if (connection_.input_ended() && !progressed && connection_.output_drained() &&
      !engine_->awaiting_decision()) {
    close(CloseReason::peer_closed);
    return true;
  }
  if (!hooks_->awaiting_sync() && now_ms - last_activity_ms_ > hooks_->idle_limit_ms()) {
    time_out(now_ms);
    return true;  // step again at once: the session may be over already
  }
  if (now_ms >= hooks_->time_limit_ms()) {
    end_now(CloseReason::time_limit);
    return true;
  }
  return progressed;
}

// Input goes to the engine until it stops taking it; output the session makes
// by itself is sent as it is made, so a long message streams through the
// output buffer within one round. What waits is sent before the session is
// asked for more: a command's reply that filled the buffer (a POP3 RETR) would
// otherwise end the round, and its rest would follow a poll later, in a
// segment of its own.
bool SessionTransport::feed_engine() {
  bool progressed = false;
  for (;;) {
    if (!connection_.output_drained()) connection_.pump();
    if (hooks_->produce()) {
      progressed = true;
      continue;
    }
    if (connection_.received().empty() || engine_->awaiting_tls() || engine_->finished()) break;
    const std::size_t consumed = engine_->feed(connection_.received());
    if (consumed == 0) break;
    connection_.consume(consumed);
    opening_deadline_ms_ = UINT64_MAX;  // the peer spoke: the command timeouts take over
    progressed = true;
  }
  return progressed;
}

// After the reply to STARTTLS/STLS is sent: what the peer pipelined behind the
// command is dropped unread by start_tls() (RFC 3207 §4.2, RFC 2595 §4).
// The peer opens anew: the handshake and the first command after it get the
// opening deadline again.
bool SessionTransport::hand_over_to_tls(std::uint64_t now_ms) {
  if (!engine_->awaiting_tls() || !connection_.output_drained() || connection_.handshaking() ||
      connection_.tls_active()) {
    return false;
  }
  if (connection_.start_tls(*tls_)) {
    opening_deadline_ms_ = deadline_after(now_ms, opening_limit_ms_);
  } else {
    say_goodbye(CloseReason::tls_unavailable);
  }
  return true;
}

// An idle peer gets the goodbye and one more idle period to read it. A peer
// that does not read even that (its replies fill every buffer) loses the slot
// anyway: otherwise a few such clients would hold every session forever.
void SessionTransport::time_out(std::uint64_t now_ms) {
  if (engine_->finished()) return close(CloseReason::goodbye_unread);
  say_goodbye(CloseReason::idle_timeout);
  last_activity_ms_ = now_ms;
}

void SessionTransport::say_goodbye(CloseReason reason) {
  if (!hooks_->say_goodbye(reason)) return close(reason);
  goodbye_ = reason;
  connection_.pump();
}

// A peer that has not finished its handshake cannot read a goodbye, and one
// written now would go into the handshake.
void SessionTransport::end_now(CloseReason reason) {
  if (!active()) return;
  if (!connection_.handshaking() && hooks_->say_goodbye(reason)) connection_.pump();
  close(reason);
}

// A bare connection, a stalled handshake or a silent client: it gets the
// protocol's goodbye when it can read one, and gives its slot back.
void SessionTransport::give_up_opening() {
  opening_deadline_ms_ = UINT64_MAX;
  if (connection_.handshaking()) return close(CloseReason::opening_timeout);
  if (!engine_->finished()) say_goodbye(CloseReason::opening_timeout);
}

std::uint64_t SessionTransport::deadline_ms() const {
  if (!active()) return UINT64_MAX;
  return std::min({timer_at_ms_, opening_deadline_ms_, last_activity_ms_ + hooks_->idle_limit_ms() + 1,
                   hooks_->time_limit_ms()});
}

void SessionTransport::close(CloseReason reason) {
  PIGEON_ASSERT(active() && reason != CloseReason::none);
  log_close(reason);
  connection_.close();
  hooks_->closed(reason);
}

// Failures are warnings, with Mbed TLS's words and code for a TLS failure; an
// ordinary end is information.
void SessionTransport::log_close(CloseReason reason) {
  std::array<char, peer_text_bytes> peer_text{};
  const std::string_view peer = describe_peer(connection_.peer(), peer_text);
  const auto name_length = static_cast<int>(log_name_.size());
  const auto peer_length = static_cast<int>(peer.size());
  const TlsSession* tls = connection_.tls_session();
  if (is_tls_failure(reason) && tls != nullptr) {
    log_->write(hal::LogLevel::warning, "%.*s: connection with %.*s closed: %s: %s (Mbed TLS -0x%04x)",
                name_length, log_name_.data(), peer_length, peer.data(), describe(reason),
                tls->failure_reason(), static_cast<unsigned>(-tls->failure_code()));
    return;
  }
  const bool failure = reason == CloseReason::network_error || reason == CloseReason::tls_unavailable;
  log_->write(failure ? hal::LogLevel::warning : hal::LogLevel::info, "%.*s: connection with %.*s closed: %s",
              name_length, log_name_.data(), peer_length, peer.data(), describe(reason));
}

}  // namespace pigeon
