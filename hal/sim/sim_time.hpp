// Simulated time: one number of milliseconds that the simulator moves forward,
// shared by the network, every host's clock and every log line. Nothing in a
// simulation reads the machine's clock.
#pragma once

#include <cstdint>

#include "protocol/assert.hpp"

namespace pigeon::hal {

class SimTime {
 public:
  std::uint64_t now_ms() const { return now_ms_; }
  void advance_to(std::uint64_t at_ms) {
    PIGEON_ASSERT(at_ms >= now_ms_);
    now_ms_ = at_ms;
  }

 private:
  std::uint64_t now_ms_ = 0;
};

}  // namespace pigeon::hal
