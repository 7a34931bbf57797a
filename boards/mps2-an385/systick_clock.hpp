// The clock HAL on mps2-an385: SysTick at 1 kHz from the 25 MHz core clock. The
// board has no RTC: wall time counts from the build's time (PIGEON_BUILD_UNIX_S),
// which is enough for certificate validity and Date headers to be plausible.
#pragma once

#include <cstdint>

#include "hal/clock.hpp"

namespace pigeon::board {

inline constexpr std::uint32_t core_clock_hz = 25'000'000;

class SysTickClock final : public hal::Clock {
 public:
  void start();
  std::uint64_t monotonic_ms() override;
  std::int64_t unix_time_s() override;
  // Core clock ticks since the last millisecond: timer jitter for entropy and
  // the finer unit of the instruction-count measurements.
  static std::uint32_t ticks_into_millisecond();
};

}  // namespace pigeon::board
