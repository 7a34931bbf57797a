// The relay: five listeners, static session slots, and the loop step that the
// board's main loop calls after servicing the network (docs/architecture.md §3).
#pragma once

#include <array>

#include "delivery_scheduler.hpp"
#include "pop3_session.hpp"
#include "relay_services.hpp"
#include "smtp_session.hpp"

namespace pigeon {

class Relay {
 public:
  // Without a scheduler (a board that does not relay) mail for other domains
  // is refused anyway unless a smarthost is configured.
  explicit Relay(RelayServices& services, DeliveryScheduler* scheduler = nullptr)
      : services_(services), scheduler_(scheduler) {}

  // Binds every listener. On failure names the service whose port is taken.
  hal::NetStatus start(Service& failed_service);
  std::uint16_t bound_port(Service service) const { return bound_ports_[index(service)]; }

  // One bounded round of work: relay to the smarthost, accept, a slice of
  // the password checks, step every session, one flash sync for all commits
  // of the round. Returns how long the board may sleep (ms) before
  // the next call unless the network wakes it.
  std::uint32_t poll(std::uint64_t now_ms);

  // 421 to every client and close.
  void shut_down();

 private:
  static std::size_t index(Service service) { return static_cast<std::size_t>(service); }
  bool accept_clients(std::uint64_t now_ms);
  bool accept_one(Service service, std::uint64_t now_ms);
  void refuse(hal::StreamId stream, Service service);
  bool sync_commits();
  std::uint32_t idle_time_ms(std::uint64_t now_ms) const;

  RelayServices& services_;
  DeliveryScheduler* scheduler_;
  std::array<hal::ListenerId, service_count> listeners_{};
  std::array<std::uint16_t, service_count> bound_ports_{};
  std::array<SmtpSession, PIGEON_SMTP_SESSIONS> smtp_sessions_;
  std::array<Pop3Session, PIGEON_POP3_SESSIONS> pop3_sessions_;
};

}  // namespace pigeon
