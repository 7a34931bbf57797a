// lwIP on the host for tests: one stack with its loopback interface (127.0.0.1),
// so that test clients and the relay exchange real TCP segments through lwIP in
// one process, and helpers that step the stack until something is true.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "hal/lwip/lwip_net.hpp"

namespace pigeon::test {

// Delivers what the loopback interface queued; never sleeps (tests step time).
class LoopbackDriver final : public hal::NetDriver {
 public:
  void service_interfaces() override;
  void sleep(std::uint32_t) override {}
};

// Initialises lwIP once per process.
void start_lwip();

hal::Endpoint loopback(std::uint16_t port);

// Pool objects lwIP has handed out right now: pbufs, segments and heap bytes.
struct LwipUsage {
  std::uint32_t pool_pbufs;
  std::uint32_t ref_pbufs;
  std::uint32_t segments;
  std::uint32_t heap_bytes;
  bool operator==(const LwipUsage&) const = default;
};
LwipUsage lwip_usage();

// Calls `step` (which must service the network) until `done`, for at most
// `max_ms` of wall time; returns whether `done` became true.
bool step_until(const std::function<void()>& step, const std::function<bool()>& done, int max_ms = 10'000);

// Reads everything available from `stream` into `out`; false when the stream ended.
bool drain(hal::Net& net, hal::StreamId stream, std::string& out);
// Sends all of `data`, calling `step` while lwIP applies back-pressure.
bool send_all(hal::Net& net, hal::StreamId stream, std::string_view data, const std::function<void()>& step);

}  // namespace pigeon::test
