#include "relay.hpp"

#include <algorithm>

#include "ip_address.hpp"

namespace pigeon {
namespace {

// Sessions that progressed are stepped again at once; otherwise the board may
// sleep this long at most, so timeouts are noticed promptly.
constexpr std::uint32_t max_idle_ms = 1000;

// A new client may take the slot of a session that is not protected (it has
// not logged in, and no message of it is being received or stored) and has
// been idle this long: longer than a client on a LAN waits between commands or
// computes its side of a TLS handshake, so that a burst of well-behaved
// clients waits instead of evicting each other (docs/security.md). A
// connection that has not sent a single byte gives way sooner: a client sends
// its ClientHello, or its EHLO after the greeting, within milliseconds.
constexpr std::uint64_t eviction_idle_ms = 5000;
constexpr std::uint64_t silent_eviction_idle_ms = 1000;

std::uint64_t evictable_from_ms(const SessionTransport& session) {
  return session.last_activity_ms() + (session.heard_from_peer() ? eviction_idle_ms : silent_eviction_idle_ms);
}

// Of the sessions a new client may replace at `at_ms` (holding a TLS session,
// when `tls_holder`; never the asking stream's own), the one that gives way
// first: a silent connection before a client that spoke, then the longest idle.
SessionTransport* first_to_give_way(std::span<SessionTransport* const> sessions, std::uint64_t at_ms,
                                    bool tls_holder, hal::StreamId asking = hal::invalid_id) {
  SessionTransport* found = nullptr;
  std::uint64_t found_from_ms = UINT64_MAX;
  for (SessionTransport* session : sessions) {
    if (!session->evictable() || (tls_holder && !session->holds_tls()) || session->stream() == asking) continue;
    const std::uint64_t from_ms = evictable_from_ms(*session);
    if (from_ms <= at_ms && from_ms < found_from_ms) {
      found = session;
      found_from_ms = from_ms;
    }
  }
  return found;
}

SessionTransport* free_slot(std::span<SessionTransport* const> sessions) {
  for (SessionTransport* session : sessions) {
    if (!session->active()) return session;
  }
  return nullptr;
}

}  // namespace

Relay::Relay(RelayServices& services, DeliveryScheduler* scheduler) : services_(services), scheduler_(scheduler) {
  for (std::size_t i = 0; i < smtp_sessions_.size(); ++i) transports_[i] = &smtp_sessions_[i].transport();
  for (std::size_t i = 0; i < pop3_sessions_.size(); ++i) {
    transports_[smtp_sessions_.size() + i] = &pop3_sessions_[i].transport();
  }
  for (std::size_t i = 0; i < imap_sessions_.size(); ++i) {
    transports_[smtp_sessions_.size() + pop3_sessions_.size() + i] = &imap_sessions_[i].transport();
  }
}

hal::NetStatus Relay::start(Service& failed_service) {
  services_.spool.log_mount_report(services_.log);
  services_.spool.set_writer_share_percent(services_.config.spool_share_percent);
  for (std::size_t i = 0; i < service_count; ++i) {
    const auto service = static_cast<Service>(i);
    if (!offers(service)) continue;
    const hal::Endpoint local{services_.config.listen_address, services_.config.port(service)};
    const hal::NetStatus status = services_.net.listen(local, listeners_[i]);
    if (status != hal::NetStatus::ok) {
      failed_service = service;
      return status;
    }
    bound_ports_[i] = services_.net.local_port(listeners_[i]);
  }
  for (std::size_t i = 0; i < service_count; ++i) accepting_[i] = offers(static_cast<Service>(i));
  return hal::NetStatus::ok;
}

std::uint32_t Relay::poll(std::uint64_t now_ms) {
  // First, so that it sees only commits that the last round's sync made durable.
  bool progressed = scheduler_ != nullptr && scheduler_->poll(now_ms);
  // Before the sessions, so that a verdict's reply goes out in this round.
  progressed |= services_.logins.step(now_ms);
  for (SessionTransport* session : transports_) progressed |= session->step(now_ms);
  // Before accepting: the sync answers sessions that may have closed this
  // round, and their slots are free for a client that reconnects at once.
  progressed |= sync_commits();
  progressed |= accept_clients(now_ms);
  services_.tls.rotate_ticket_keys(now_ms);
  return progressed ? 0 : idle_time_ms(now_ms);
}

bool Relay::accept_clients(std::uint64_t now_ms) {
  bool accepted = false;
  for (std::size_t i = 0; i < service_count; ++i) {
    if (!offers(static_cast<Service>(i))) continue;
    // A bounded number per round, so a connection flood cannot starve sessions.
    for (int round = 0; round < 4 && accept_one(static_cast<Service>(i), now_ms); ++round) {
      accepted = true;
    }
  }
  return accepted;
}

// A client that cannot be given a slot now but soon stays in the listener's
// backlog, unwatched, until then; one that could wait long hears so at once.
bool Relay::accept_one(Service service, std::uint64_t now_ms) {
  const Admission admit = admission(service, now_ms);
  watch_listener(service, admit != Admission::later);
  if (admit == Admission::later) return false;
  hal::StreamId stream = hal::invalid_id;
  hal::Endpoint peer;
  if (services_.net.accept(listeners_[index(service)], stream, peer) != hal::NetStatus::ok) return false;
  const AddressKey client = address_key(peer.address);
  const auto same_client = [&client](const SessionTransport* session) {
    return session->active() && address_key(session->peer().address) == client;
  };
  const auto group = slots(service);
  SessionTransport* slot = nullptr;
  if (static_cast<std::size_t>(std::count_if(group.begin(), group.end(), same_client)) >=
      per_address_limit(service)) {
    refuse(stream, service, true);
  } else if (admit == Admission::now && (slot = make_room(service, now_ms)) != nullptr) {
    start_session(service, slot, stream, peer, now_ms);
  } else {
    refuse(stream, service, false);
  }
  return true;
}

Relay::Admission Relay::admission(Service service, std::uint64_t now_ms) const {
  if (room_at(service, now_ms)) return Admission::now;
  // Every unprotected session gives way in the end.
  return room_at(service, UINT64_MAX) ? Admission::later : Admission::refuse;
}

// A local client is trusted as far as the socket's mode let it in: no limit
// per address (it has none), but the same slots and the same eviction.
void Relay::start_local_submission(hal::StreamId stream, std::uint64_t now_ms) {
  const SessionTransport* slot = make_room(Service::smtp, now_ms);
  if (slot == nullptr) return refuse(stream, Service::smtp, false);
  const auto position = static_cast<std::size_t>(std::find(transports_.begin(), transports_.end(), slot) -
                                                 transports_.begin());
  smtp_sessions_[position].start_local(services_, *this, stream, now_ms);
}

// Whether a new client of `service` could have a slot, and for implicit TLS a
// TLS session, at `at_ms`, evicting sessions that may give way by then.
bool Relay::room_at(Service service, std::uint64_t at_ms) const {
  const auto group = slots(service);
  const bool slot = free_slot(group) != nullptr || first_to_give_way(group, at_ms, false) != nullptr;
  return slot && (!is_implicit_tls(service) || tls_session_free() ||
                  first_to_give_way(transports_, at_ms, true) != nullptr);
}

std::span<SessionTransport* const> Relay::slots(Service service) const {
  const std::span<SessionTransport* const> all(transports_);
  if (is_pop3(service)) return all.subspan(smtp_sessions_.size(), pop3_sessions_.size());
  if (is_imap(service)) return all.subspan(smtp_sessions_.size() + pop3_sessions_.size());
  return all.first(smtp_sessions_.size());
}

// A free slot, or the slot of the session a new client may replace that gave
// way first, evicted (the TLS session for implicit TLS comes from acquire()).
SessionTransport* Relay::make_room(Service service, std::uint64_t now_ms) {
  if (SessionTransport* slot = free_slot(slots(service))) return slot;
  SessionTransport* victim = first_to_give_way(slots(service), now_ms, false);
  if (victim != nullptr) victim->evict();
  return victim;
}

void Relay::start_session(Service service, const SessionTransport* slot, hal::StreamId stream,
                          const hal::Endpoint& peer, std::uint64_t now_ms) {
  const auto position = static_cast<std::size_t>(std::find(transports_.begin(), transports_.end(), slot) -
                                                 transports_.begin());
  if (position < smtp_sessions_.size()) return smtp_sessions_[position].start(services_, *this, service, stream, peer, now_ms);
  const std::size_t pop3_position = position - smtp_sessions_.size();
  if (pop3_position < pop3_sessions_.size()) {
    return pop3_sessions_[pop3_position].start(services_, *this, service, stream, peer, now_ms);
  }
  // A build without IMAP links none of it.
  if constexpr (PIGEON_IMAP_SESSIONS > 0) {
    imap_sessions_[pop3_position - pop3_sessions_.size()].start(services_, *this, service, stream, peer, now_ms);
  }
}

// A TLS session for a new implicit-TLS client or after STARTTLS/STLS: when
// none is free, the session holding one that gave way first is evicted, never
// the asking session (it is inside its own step).
TlsSession* Relay::acquire(hal::Net& net, hal::StreamId stream) {
  if (TlsSession* session = services_.tls.acquire(net, stream)) return session;
  SessionTransport* victim = first_to_give_way(transports_, services_.clock.monotonic_ms(), true, stream);
  if (victim == nullptr) return nullptr;
  victim->evict();
  return services_.tls.acquire(net, stream);
}

// The server's TLS sessions are used by client sessions only (the smarthost
// client has its own).
bool Relay::tls_session_free() const {
  const auto holders = std::count_if(transports_.begin(), transports_.end(),
                                     [](const SessionTransport* session) { return session->holds_tls(); });
  return static_cast<std::size_t>(holders) < PIGEON_TLS_SESSIONS;
}

// One address may not hold every slot of a protocol: by default half of them.
std::size_t Relay::per_address_limit(Service service) const {
  const std::uint32_t configured = services_.config.max_sessions_per_address;
  return configured != 0 ? configured : std::max<std::size_t>(1, slots(service).size() / 2);
}

void Relay::watch_listener(Service service, bool wanted) {
  if (accepting_[index(service)] == wanted) return;
  accepting_[index(service)] = wanted;
  services_.net.set_accept_interest(listeners_[index(service)], wanted);
}

// No slot: say so in the protocol's words and close (RFC 5321 §3.8).
void Relay::refuse(hal::StreamId stream, Service service, bool per_address) {
  const std::string_view name = service_name(service);
  const std::string_view reason =
      per_address ? "Too many connections from your address" : "Too many connections, try again later";
  services_.log.write(hal::LogLevel::warning, "%.*s: refused: %.*s", static_cast<int>(name.size()), name.data(),
                      static_cast<int>(reason.size()), reason.data());
  if (!is_implicit_tls(service)) {
    const std::string_view prefix = is_pop3(service)   ? "-ERR [SYS/TEMP] "
                                    : is_imap(service) ? "* BYE [UNAVAILABLE] "
                                                       : "421 4.7.0 ";
    for (const std::string_view part : {prefix, reason, std::string_view("\r\n")}) {
      services_.net.send(stream, {reinterpret_cast<const std::uint8_t*>(part.data()), part.size()});
    }
  }
  services_.net.close(stream);
}

// Returns true when sessions were answered and have replies to send.
bool Relay::sync_commits() {
  const auto waiting = [](const SessionTransport* session) { return session->awaiting_sync(); };
  if (std::none_of(transports_.begin(), transports_.end(), waiting)) return false;
  const bool durable = services_.spool.sync() == SpoolStatus::ok;
  if (!durable) services_.log.write(hal::LogLevel::error, "spool: flash sync failed");
  for (SessionTransport* session : transports_) {
    if (session->awaiting_sync()) session->sync_finished(durable);
  }
  return true;
}

// Until then at most: timed work, the smarthost, the password checks. A
// client waiting in a listener's backlog is looked at again within
// max_idle_ms, when the next session may have given way.
std::uint32_t Relay::idle_time_ms(std::uint64_t now_ms) const {
  std::uint64_t next = now_ms + max_idle_ms;
  for (const SessionTransport* session : transports_) next = std::min(next, session->deadline_ms());
  if (scheduler_ != nullptr) next = std::min(next, scheduler_->deadline_ms());
  next = std::min(next, services_.logins.deadline_ms());
  return next <= now_ms ? 0 : static_cast<std::uint32_t>(next - now_ms);
}

void Relay::shut_down() {
  if (scheduler_ != nullptr) scheduler_->shut_down();
  for (SessionTransport* session : transports_) session->shut_down();
}

}  // namespace pigeon
