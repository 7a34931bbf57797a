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

template <typename Sessions>
auto* free_slot(Sessions& sessions) {
  for (auto& session : sessions) {
    if (!session.active()) return &session;
  }
  return static_cast<typename Sessions::value_type*>(nullptr);
}

template <typename Session>
std::uint64_t evictable_from_ms(const Session& session) {
  return session.last_activity_ms() + (session.heard_from_peer() ? eviction_idle_ms : silent_eviction_idle_ms);
}

template <typename Session>
bool may_evict(const Session& session, std::uint64_t now_ms) {
  return session.evictable() && now_ms >= evictable_from_ms(session);
}

// Of the sessions `wanted` picks, the one that could give way the earliest: a
// silent connection before a client that spoke, then the longest idle.
template <typename Sessions, typename Wanted>
auto* first_to_give_way(Sessions& sessions, Wanted wanted) {
  typename Sessions::value_type* found = nullptr;
  for (auto& session : sessions) {
    if (wanted(session) && (found == nullptr || evictable_from_ms(session) < evictable_from_ms(*found))) {
      found = &session;
    }
  }
  return found;
}

}  // namespace

hal::NetStatus Relay::start(Service& failed_service) {
  services_.spool.log_mount_report(services_.log);
  services_.spool.set_writer_share_percent(services_.config.spool_share_percent);
  for (std::size_t i = 0; i < service_count; ++i) {
    const auto service = static_cast<Service>(i);
    const hal::Endpoint local{services_.config.listen_address, services_.config.port(service)};
    const hal::NetStatus status = services_.net.listen(local, listeners_[i]);
    if (status != hal::NetStatus::ok) {
      failed_service = service;
      return status;
    }
    bound_ports_[i] = services_.net.local_port(listeners_[i]);
  }
  accepting_.fill(true);  // a new listener is watched
  return hal::NetStatus::ok;
}

std::uint32_t Relay::poll(std::uint64_t now_ms) {
  // First, so that it sees only commits that the last round's sync made durable.
  bool progressed = scheduler_ != nullptr && scheduler_->poll(now_ms);
  // Before the sessions, so that a verdict's reply goes out in this round.
  progressed |= services_.logins.step(now_ms);
  for (auto& session : smtp_sessions_) progressed |= session.step(now_ms);
  for (auto& session : pop3_sessions_) progressed |= session.step(now_ms);
  // Before accepting: the sync answers sessions that may have closed this
  // round, and their slots are free for a client that reconnects at once.
  progressed |= sync_commits();
  progressed |= accept_clients(now_ms);
  return progressed ? 0 : idle_time_ms(now_ms);
}

bool Relay::accept_clients(std::uint64_t now_ms) {
  bool accepted = false;
  for (std::size_t i = 0; i < service_count; ++i) {
    const auto service = static_cast<Service>(i);
    // A bounded number per round, so a connection flood cannot starve sessions.
    for (int round = 0; round < 4; ++round) {
      const bool one = is_pop3(service) ? accept_one(pop3_sessions_, service, now_ms)
                                        : accept_one(smtp_sessions_, service, now_ms);
      if (!one) break;
      accepted = true;
    }
  }
  return accepted;
}

// A client that cannot be given a slot now but soon stays in the listener's
// backlog, unwatched, until then; one that could wait long hears so at once.
template <typename Sessions>
bool Relay::accept_one(Sessions& sessions, Service service, std::uint64_t now_ms) {
  const Admission admit = admission(sessions, service, now_ms);
  watch_listener(service, admit != Admission::later);
  if (admit == Admission::later) return false;
  hal::StreamId stream = hal::invalid_id;
  hal::Endpoint peer;
  if (services_.net.accept(listeners_[index(service)], stream, peer) != hal::NetStatus::ok) return false;
  const AddressKey client = address_key(peer.address);
  const auto same_client = [&](const auto& session) {
    return session.active() && address_key(session.peer().address) == client;
  };
  if (static_cast<std::size_t>(std::count_if(sessions.begin(), sessions.end(), same_client)) >=
      per_address_limit(sessions)) {
    refuse(stream, service, true);
  } else if (admit == Admission::now && make_room(sessions, now_ms)) {
    free_slot(sessions)->start(services_, *this, service, stream, peer, now_ms);
  } else {
    refuse(stream, service, false);
  }
  return true;
}

template <typename Sessions>
Relay::Admission Relay::admission(const Sessions& sessions, Service service, std::uint64_t now_ms) const {
  const auto free_now = [now_ms](const auto& session) { return !session.active() || may_evict(session, now_ms); };
  const auto free_soon = [](const auto& session) { return !session.active() || session.evictable(); };
  bool tls_now = !is_implicit_tls(service) || tls_session_free();
  bool tls_soon = tls_now;
  for_each_session([&](const auto& session) {
    tls_now |= session.holds_tls() && may_evict(session, now_ms);
    tls_soon |= session.holds_tls() && session.evictable();
  });
  if (tls_now && std::any_of(sessions.begin(), sessions.end(), free_now)) return Admission::now;
  if (tls_soon && std::any_of(sessions.begin(), sessions.end(), free_soon)) return Admission::later;
  return Admission::refuse;
}

// Frees a slot by evicting the session a new client may replace that is the
// first to give way (the TLS session for implicit TLS comes from acquire()).
template <typename Sessions>
bool Relay::make_room(Sessions& sessions, std::uint64_t now_ms) {
  if (free_slot(sessions) != nullptr) return true;
  auto* victim = first_to_give_way(sessions, [now_ms](const auto& session) { return may_evict(session, now_ms); });
  if (victim == nullptr) return false;
  victim->evict();
  return true;
}

// A TLS session for a new implicit-TLS client or after STARTTLS/STLS.
TlsSession* Relay::acquire(hal::Net& net, hal::StreamId stream) {
  if (TlsSession* session = services_.tls.acquire(net, stream)) return session;
  if (!free_tls_session(services_.clock.monotonic_ms(), stream)) return nullptr;
  return services_.tls.acquire(net, stream);
}

// Evicts the session holding a TLS session that is the first to give way;
// never the asking session (it is inside its own step).
bool Relay::free_tls_session(std::uint64_t now_ms, hal::StreamId asking) {
  const auto holds_idle_tls = [now_ms, asking](const auto& session) {
    return session.holds_tls() && !session.owns(asking) && may_evict(session, now_ms);
  };
  auto* smtp = first_to_give_way(smtp_sessions_, holds_idle_tls);
  auto* pop3 = first_to_give_way(pop3_sessions_, holds_idle_tls);
  if (smtp != nullptr && (pop3 == nullptr || evictable_from_ms(*smtp) <= evictable_from_ms(*pop3))) {
    smtp->evict();
  } else if (pop3 != nullptr) {
    pop3->evict();
  } else {
    return false;
  }
  return tls_session_free();
}

// The server's TLS sessions are used by client sessions only (the smarthost
// client has its own).
bool Relay::tls_session_free() const {
  std::size_t in_use = 0;
  for_each_session([&](const auto& session) { in_use += session.holds_tls() ? 1 : 0; });
  return in_use < PIGEON_TLS_SESSIONS;
}

// One address may not hold every slot of a protocol: by default half of them.
template <typename Sessions>
std::size_t Relay::per_address_limit(const Sessions& sessions) const {
  const std::uint32_t configured = services_.config.max_sessions_per_address;
  return configured != 0 ? configured : std::max<std::size_t>(1, sessions.size() / 2);
}

void Relay::watch_listener(Service service, bool wanted) {
  if (accepting_[index(service)] == wanted) return;
  accepting_[index(service)] = wanted;
  services_.net.set_accept_interest(listeners_[index(service)], wanted);
}

// No slot: say so in the protocol's words and close (RFC 5321 §3.8).
void Relay::refuse(hal::StreamId stream, Service service, bool per_address) {
  const std::string_view name = service_name(service);
  services_.log.write(hal::LogLevel::warning, "%.*s: too many connections%s, refusing one",
                      static_cast<int>(name.size()), name.data(), per_address ? " from one address" : "");
  if (!is_implicit_tls(service)) {
    const std::string_view reason =
        per_address ? "Too many connections from your address" : "Too many connections, try again later";
    const std::string_view prefix = is_pop3(service) ? "-ERR [SYS/TEMP] " : "421 4.7.0 ";
    for (const std::string_view part : {prefix, reason, std::string_view("\r\n")}) {
      services_.net.send(stream, {reinterpret_cast<const std::uint8_t*>(part.data()), part.size()});
    }
  }
  services_.net.close(stream);
}

// Returns true when sessions were answered and have replies to send.
bool Relay::sync_commits() {
  const bool any_waiting =
      std::any_of(smtp_sessions_.begin(), smtp_sessions_.end(), [](auto& s) { return s.awaiting_sync(); }) ||
      std::any_of(pop3_sessions_.begin(), pop3_sessions_.end(), [](auto& s) { return s.awaiting_sync(); });
  if (!any_waiting) return false;
  const bool durable = services_.spool.sync() == SpoolStatus::ok;
  if (!durable) services_.log.write(hal::LogLevel::error, "spool: flash sync failed");
  for (auto& session : smtp_sessions_) {
    if (session.awaiting_sync()) session.sync_finished(durable);
  }
  for (auto& session : pop3_sessions_) {
    if (session.awaiting_sync()) session.sync_finished(durable);
  }
  return true;
}

// When the next unprotected session will have been idle long enough to give
// way to a client waiting in a listener's backlog.
std::uint64_t Relay::next_eviction_ms() const {
  std::uint64_t next = UINT64_MAX;
  for_each_session([&](const auto& session) {
    if (session.evictable()) next = std::min(next, evictable_from_ms(session));
  });
  return next;
}

std::uint32_t Relay::idle_time_ms(std::uint64_t now_ms) const {
  std::uint64_t next = now_ms + max_idle_ms;
  const bool clients_wait = std::find(accepting_.begin(), accepting_.end(), false) != accepting_.end();
  if (clients_wait) next = std::min(next, next_eviction_ms());
  for (const auto& session : smtp_sessions_) next = std::min(next, session.deadline_ms());
  for (const auto& session : pop3_sessions_) next = std::min(next, session.deadline_ms());
  if (scheduler_ != nullptr) next = std::min(next, scheduler_->deadline_ms());
  next = std::min(next, services_.logins.deadline_ms());
  return next <= now_ms ? 0 : static_cast<std::uint32_t>(next - now_ms);
}

template <typename Visit>
void Relay::for_each_session(Visit visit) const {
  for (const auto& session : smtp_sessions_) visit(session);
  for (const auto& session : pop3_sessions_) visit(session);
}

void Relay::shut_down() {
  if (scheduler_ != nullptr) scheduler_->shut_down();
  for (auto& session : smtp_sessions_) session.shut_down();
  for (auto& session : pop3_sessions_) session.shut_down();
}

}  // namespace pigeon
