// The alert control endpoint: a loopback-only TCP port through which a
// program on the same machine (tools/pigeon-alert) calls the alert API of the
// running relay, instead of opening its spool. One request per connection:
//
//   key TAB to TAB subject TAB body LF     (body: "\n" for a line break, "\\" for "\")
//
// answered with the pigeon_alert_status number and its name, then closed.
#pragma once

#include <array>
#include <cstdint>

#include "alert.hpp"
#include "hal/clock.hpp"
#include "hal/log.hpp"
#include "hal/net.hpp"

namespace pigeon {

class AlertEndpoint {
 public:
  AlertEndpoint(hal::Net& net, hal::Clock& clock, hal::Log& log, Alerts& alerts)
      : net_(net), clock_(clock), log_(log), alerts_(alerts) {}

  // Listens on 127.0.0.1:`port` (0: any free port).
  hal::NetStatus start(std::uint16_t port);
  std::uint16_t port() const { return net_.local_port(listener_); }
  // Serves the current request as far as it goes without blocking.
  void poll();

 private:
  void accept_request();
  void read_request();
  void answer(AlertStatus status);
  AlertStatus handle(std::span<char> line);

  hal::Net& net_;
  hal::Clock& clock_;
  hal::Log& log_;
  Alerts& alerts_;
  hal::ListenerId listener_ = hal::invalid_id;
  hal::StreamId stream_ = hal::invalid_id;
  std::uint64_t accepted_at_ms_ = 0;
  std::array<char, 4096> request_{};
  std::size_t received_ = 0;
};

}  // namespace pigeon
