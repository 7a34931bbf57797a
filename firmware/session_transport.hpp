// The life of one session's connection, written once for every protocol that
// runs over TCP: the SMTP and POP3 servers, the smarthost's SMTP client, and an
// IMAP server later (docs/architecture.md §3). It starts the session (implicit
// TLS, or the greeting at once), moves bytes between the network and the
// sans-I/O engine, hands over to TLS after STARTTLS/STLS, keeps the idle clock
// and a timer for the session's own timed work, says the protocol's goodbye,
// and closes with the reason logged.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "connection.hpp"
#include "hal/log.hpp"
#include "protocol/session_engine.hpp"

namespace pigeon {

// What the transport asks of the session it carries, besides its engine.
class SessionHooks {
 public:
  // The connection is ready for the protocol to begin: at once in plaintext,
  // after the handshake under implicit TLS. A server queues its greeting.
  virtual void greet() = 0;
  // Output the session makes without new input (a POP3 message being sent,
  // the smarthost's next message and body); true when the output grew.
  virtual bool produce() { return false; }
  // The protocol's last words before the transport closes (421, -ERR); false
  // when it has none and the transport is to close at once.
  virtual bool say_goodbye(CloseReason reason) = 0;
  // The timer set with SessionTransport::set_timer() is due.
  virtual void timer_expired() {}
  // How long the peer may be silent now (it may depend on the engine's state).
  virtual std::uint64_t idle_limit_ms() const = 0;
  // Group commit (docs/architecture.md §9): a commit of the session waits for
  // the loop's one flash sync; the idle clock stands still meanwhile.
  virtual bool awaiting_sync() const { return false; }
  // The loop's sync is done: whether it made the session's commit durable.
  virtual void sync_finished(bool /*durable*/) {}
  // When the session must end whatever it does, however busy the peer keeps
  // it (docs/security.md): a client that drips bytes is never idle.
  virtual std::uint64_t time_limit_ms() const { return UINT64_MAX; }
  // A command still at work that stopped by itself to let the other sessions
  // have their turn (an IMAP SEARCH between its slices): the loop comes back
  // at once, and the session is not idle meanwhile.
  virtual bool working() const { return false; }
  // A protected session: a new client may not take its slot (it logged in, or
  // a message of it is being received or stored; docs/security.md).
  virtual bool keeps_slot() const { return false; }
  // The connection is closed (and its TLS session released): the session lets
  // go of its engine and whatever the session held.
  virtual void closed(CloseReason reason) = 0;

 protected:
  ~SessionHooks() = default;
};

// How one session uses the transport; fixed for the session's life.
struct TransportSetup {
  hal::Net& net;
  hal::Log& log;
  TlsSessionPool& tls;
  std::string_view log_name;  // "smtp", "pop3", "smarthost"
  bool implicit_tls = false;  // the peer speaks TLS from its first byte
  // A server's clients get this long from connect, and from STARTTLS/STLS, to
  // finish the TLS handshake and send their first command.
  std::uint64_t opening_limit_ms = UINT64_MAX;
};

class SessionTransport {
 public:
  bool active() const { return connection_.is_open(); }
  // Takes over `stream`. The engine and the hooks outlive the session; the
  // engine writes into output().
  void start(const TransportSetup& setup, protocol::SessionEngine& engine, SessionHooks& hooks,
             hal::StreamId stream, const hal::Endpoint& peer, std::uint64_t now_ms);
  // Does what can be done without blocking; true when anything progressed.
  bool step(std::uint64_t now_ms);
  // The next time step() has timed work to do (the timer, the idle limit).
  std::uint64_t deadline_ms() const;
  // The goodbye, what of it can be sent at once, and close (relay shutdown).
  void shut_down() { end_now(CloseReason::shut_down); }
  // The same, for a session whose slot a new client gets.
  void evict() { end_now(CloseReason::evicted); }
  // When the peer or the relay last moved a byte or the handshake progressed.
  std::uint64_t last_activity_ms() const { return last_activity_ms_; }

  // Calls SessionHooks::timer_expired() at `at_ms` (one timer per session).
  void set_timer(std::uint64_t at_ms) { timer_at_ms_ = at_ms; }

  protocol::OutputBuffer& output() { return connection_.output(); }
  // STARTTLS/STLS: a TLS session set aside before the reply that promises it.
  bool reserve_tls() { return connection_.reserve_tls(*tls_); }
  bool tls_active() const { return connection_.tls_active(); }
  bool holds_tls() const { return connection_.holds_tls(); }
  bool heard_from_peer() const { return connection_.heard_from_peer(); }
  // The session's commit waits for the loop's flash sync (SessionHooks).
  bool awaiting_sync() const { return hooks_ != nullptr && hooks_->awaiting_sync(); }
  void sync_finished(bool durable) { hooks_->sync_finished(durable); }
  // A new client may take this session's slot once it has been idle long enough.
  bool evictable() const { return active() && !hooks_->keeps_slot(); }
  const hal::Endpoint& peer() const { return connection_.peer(); }
  hal::StreamId stream() const { return connection_.stream(); }

 private:
  bool feed_engine();
  bool hand_over_to_tls(std::uint64_t now_ms);
  void time_out(std::uint64_t now_ms);
  void say_goodbye(CloseReason reason);
  void end_now(CloseReason reason);
  void give_up_opening();
  void close(CloseReason reason);
  void log_close(CloseReason reason);

  Connection connection_;
  protocol::SessionEngine* engine_ = nullptr;
  SessionHooks* hooks_ = nullptr;
  hal::Log* log_ = nullptr;
  TlsSessionPool* tls_ = nullptr;
  std::string_view log_name_;
  bool implicit_tls_ = false;
  CloseReason goodbye_ = CloseReason::none;  // why the goodbye was said, for the close
  std::uint64_t last_activity_ms_ = 0;
  std::uint64_t timer_at_ms_ = UINT64_MAX;
  std::uint64_t opening_limit_ms_ = UINT64_MAX;
  // Until the handshake is done and the engine took a first command.
  std::uint64_t opening_deadline_ms_ = UINT64_MAX;
};

}  // namespace pigeon
