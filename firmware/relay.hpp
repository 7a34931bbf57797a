// The relay: its listeners (IMAP's only when the build has IMAP sessions), static session slots, and the loop step that the
// board's main loop calls after servicing the network (docs/architecture.md §3).
#pragma once

#include <array>
#include <span>

#include "delivery_scheduler.hpp"
#include "imap_session.hpp"
#include "pop3_session.hpp"
#include "relay_services.hpp"
#include "smtp_session.hpp"

namespace pigeon {

// The relay hands its sessions the server's TLS sessions through itself (a
// TlsSessionPool): when none is free, an idle unprotected session gives its up.
class Relay final : private TlsSessionPool {
 public:
  // Without a scheduler (a board that does not relay) mail for other domains
  // is refused anyway unless a smarthost is configured.
  explicit Relay(RelayServices& services, DeliveryScheduler* scheduler = nullptr);

  // Binds every listener. On failure names the service whose port is taken.
  hal::NetStatus start(Service& failed_service);
  std::uint16_t bound_port(Service service) const { return bound_ports_[index(service)]; }
  // Whether the build has sessions of the service (PIGEON_IMAP_SESSIONS may be 0).
  bool offers(Service service) const { return !slots(service).empty(); }

  // One bounded round of work: relay to the smarthost, accept, a slice of
  // the password checks, step every session, one flash sync for all commits
  // of the round. Returns how long the board may sleep (ms) before
  // the next call unless the network wakes it.
  std::uint32_t poll(std::uint64_t now_ms);

  // A stream of the host's local socket that asked for SMTP: a session of
  // local submission (SmtpSession::start_local), or 421 when every slot is busy.
  void start_local_submission(hal::StreamId stream, std::uint64_t now_ms);

  // 421 to every client and close.
  void shut_down();

 private:
  // Whether a new client of a service can be given what it needs (a slot of
  // its protocol, a TLS session for implicit TLS) now, soon (an unprotected
  // session will have been idle long enough to give way), or not for a while.
  enum class Admission : std::uint8_t { now, later, refuse };

  static std::size_t index(Service service) { return static_cast<std::size_t>(service); }
  bool accept_clients(std::uint64_t now_ms);
  bool accept_one(Service service, std::uint64_t now_ms);
  Admission admission(Service service, std::uint64_t now_ms) const;
  bool room_at(Service service, std::uint64_t at_ms) const;
  std::span<SessionTransport* const> slots(Service service) const;
  SessionTransport* make_room(Service service, std::uint64_t now_ms);
  void start_session(Service service, const SessionTransport* slot, hal::StreamId stream,
                     const hal::Endpoint& peer, std::uint64_t now_ms);
  TlsSession* acquire(hal::Net& net, hal::StreamId stream) override;
  void release(TlsSession* session) override { services_.tls.release(session); }
  bool tls_session_free() const;
  std::size_t per_address_limit(Service service) const;
  void watch_listener(Service service, bool wanted);
  void refuse(hal::StreamId stream, Service service, bool per_address);
  bool sync_commits();
  std::uint32_t idle_time_ms(std::uint64_t now_ms) const;

  RelayServices& services_;
  DeliveryScheduler* scheduler_;
  std::array<hal::ListenerId, service_count> listeners_{};
  std::array<std::uint16_t, service_count> bound_ports_{};
  std::array<bool, service_count> accepting_{};  // what the network was last told
  std::array<SmtpSession, PIGEON_SMTP_SESSIONS> smtp_sessions_;
  std::array<Pop3Session, PIGEON_POP3_SESSIONS> pop3_sessions_;
  std::array<ImapSession, PIGEON_IMAP_SESSIONS> imap_sessions_;
  // Every session's transport, SMTP's slots first, then POP3's and IMAP's:
  // slot sharing reads them the same way for every protocol.
  std::array<SessionTransport*, PIGEON_SMTP_SESSIONS + PIGEON_POP3_SESSIONS + PIGEON_IMAP_SESSIONS> transports_{};
};

}  // namespace pigeon
