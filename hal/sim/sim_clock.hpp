// Clock HAL of one simulated host. Its monotonic clock starts near zero at
// every boot, as a board's tick counter does; its wall clock follows the
// simulated time from a starting epoch, and can be set forward or back (an NTP
// correction, a dead RTC battery) without touching the monotonic clock.
#pragma once

#include <cstdint>

#include "hal/clock.hpp"
#include "hal/sim/sim_time.hpp"

namespace pigeon::hal {

class SimClock final : public Clock {
 public:
  SimClock(const SimTime& time, std::int64_t epoch_s) : time_(time), epoch_s_(epoch_s) {}

  // A power cycle: the monotonic clock starts again (one second in, so that
  // zero never means "now").
  void reboot() { boot_ms_ = time_.now_ms(); }
  // Moves the wall clock by `seconds` (negative: back).
  void jump(std::int64_t seconds) { jump_s_ += seconds; }

  std::uint64_t monotonic_ms() override { return time_.now_ms() - boot_ms_ + 1000; }
  std::int64_t unix_time_s() override {
    return epoch_s_ + static_cast<std::int64_t>(time_.now_ms() / 1000) + jump_s_;
  }

 private:
  const SimTime& time_;
  std::int64_t epoch_s_;
  std::int64_t jump_s_ = 0;
  std::uint64_t boot_ms_ = 0;
};

}  // namespace pigeon::hal
