#include "relay.hpp"

#include <algorithm>

namespace pigeon {
namespace {

// Sessions that progressed are stepped again at once; otherwise the board may
// sleep this long at most, so timeouts are noticed promptly.
constexpr std::uint32_t max_idle_ms = 1000;

template <typename Sessions>
auto* free_slot(Sessions& sessions) {
  for (auto& session : sessions) {
    if (!session.active()) return &session;
  }
  return static_cast<typename Sessions::value_type*>(nullptr);
}

}  // namespace

hal::NetStatus Relay::start(Service& failed_service) {
  services_.spool.log_mount_report(services_.log);
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
  return hal::NetStatus::ok;
}

std::uint32_t Relay::poll(std::uint64_t now_ms) {
  // First, so that it sees only commits that the last round's sync made durable.
  bool progressed = scheduler_ != nullptr && scheduler_->poll(now_ms);
  progressed |= accept_clients(now_ms);
  // Before the sessions, so that a verdict's reply goes out in this round.
  progressed |= services_.logins.step(now_ms);
  for (auto& session : smtp_sessions_) progressed |= session.step(now_ms);
  for (auto& session : pop3_sessions_) progressed |= session.step(now_ms);
  progressed |= sync_commits();
  return progressed ? 0 : idle_time_ms(now_ms);
}

bool Relay::accept_clients(std::uint64_t now_ms) {
  bool accepted = false;
  for (std::size_t i = 0; i < service_count; ++i) {
    // A bounded number per round, so a connection flood cannot starve sessions.
    for (int round = 0; round < 4 && accept_one(static_cast<Service>(i), now_ms); ++round) {
      accepted = true;
    }
  }
  return accepted;
}

bool Relay::accept_one(Service service, std::uint64_t now_ms) {
  hal::StreamId stream = hal::invalid_id;
  hal::Endpoint peer;
  if (services_.net.accept(listeners_[index(service)], stream, peer) != hal::NetStatus::ok) {
    return false;
  }
  if (is_pop3(service)) {
    if (auto* session = free_slot(pop3_sessions_)) {
      session->start(services_, service, stream, peer, now_ms);
      return true;
    }
  } else if (auto* session = free_slot(smtp_sessions_)) {
    session->start(services_, service, stream, peer, now_ms);
    return true;
  }
  refuse(stream, service);
  return true;
}

// Every slot is busy: say so in the protocol's words and close (RFC 5321 §3.8).
void Relay::refuse(hal::StreamId stream, Service service) {
  services_.log.write(hal::LogLevel::warning, "%.*s: too many connections, refusing one",
                      static_cast<int>(service_name(service).size()), service_name(service).data());
  if (!is_implicit_tls(service)) {
    const std::string_view reply = is_pop3(service)
                                       ? "-ERR [SYS/TEMP] Too many connections, try again later\r\n"
                                       : "421 4.7.0 Too many connections, try again later\r\n";
    services_.net.send(stream, {reinterpret_cast<const std::uint8_t*>(reply.data()), reply.size()});
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

std::uint32_t Relay::idle_time_ms(std::uint64_t now_ms) const {
  std::uint64_t next = now_ms + max_idle_ms;
  for (const auto& session : smtp_sessions_) next = std::min(next, session.deadline_ms());
  for (const auto& session : pop3_sessions_) next = std::min(next, session.deadline_ms());
  if (scheduler_ != nullptr) next = std::min(next, scheduler_->deadline_ms());
  next = std::min(next, services_.logins.deadline_ms());
  return next <= now_ms ? 0 : static_cast<std::uint32_t>(next - now_ms);
}

void Relay::shut_down() {
  if (scheduler_ != nullptr) scheduler_->shut_down();
  for (auto& session : smtp_sessions_) session.shut_down();
  for (auto& session : pop3_sessions_) session.shut_down();
}

}  // namespace pigeon
