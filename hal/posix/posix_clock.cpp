#include "posix_clock.hpp"

#include <ctime>

namespace pigeon::hal {

std::uint64_t PosixClock::monotonic_ms() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000u +
         static_cast<std::uint64_t>(now.tv_nsec) / 1'000'000u;
}

std::int64_t PosixClock::unix_time_s() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return now.tv_sec;
}

}  // namespace pigeon::hal
