// Clock HAL: a monotonic millisecond clock for timeouts and a wall clock for
// message headers. Backends: hal/posix (clock_gettime), boards (SysTick + RTC).
#pragma once

#include <cstdint>

namespace pigeon::hal {

class Clock {
 public:
  // Milliseconds since an arbitrary start; never goes backwards.
  virtual std::uint64_t monotonic_ms() = 0;
  // Seconds since the Unix epoch, UTC; 0 when the wall time is not known yet.
  virtual std::int64_t unix_time_s() = 0;

 protected:
  ~Clock() = default;
};

}  // namespace pigeon::hal
