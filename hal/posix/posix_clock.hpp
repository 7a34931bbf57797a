// Clock HAL on POSIX: CLOCK_MONOTONIC for timeouts, CLOCK_REALTIME for headers.
#pragma once

#include "hal/clock.hpp"

namespace pigeon::hal {

class PosixClock final : public Clock {
 public:
  std::uint64_t monotonic_ms() override;
  std::int64_t unix_time_s() override;
};

}  // namespace pigeon::hal
