#include "board_counters.hpp"

#include "firmware/tls_arena.hpp"
#include "systick_clock.hpp"

namespace pigeon::board {

BoardCounters board_counters;

// The millisecond count and the down-counter are two reads: retry when a tick
// came in between, or the sum could be off by a whole millisecond.
std::uint64_t core_ticks() {
  constexpr std::uint64_t ticks_per_ms = core_clock_hz / 1000;
  SysTickClock clock;
  for (;;) {
    const std::uint64_t ms = clock.monotonic_ms();
    const std::uint32_t into = SysTickClock::ticks_into_millisecond();
    if (clock.monotonic_ms() == ms) return ms * ticks_per_ms + into;
  }
}

void MeasuredSleep::sleep(std::uint32_t max_ms) {
  const TlsArenaUsage arena = tls_arena_usage();
  board_counters.tls_arena_bytes = static_cast<std::uint32_t>(arena.current_bytes);
  board_counters.tls_arena_high_water_bytes = static_cast<std::uint32_t>(arena.high_water_bytes);
  board_counters.tls_arena_capacity_bytes = static_cast<std::uint32_t>(arena.capacity_bytes);
  board_counters.busy_ticks += core_ticks() - woke_at_ticks_;
  driver_.sleep(max_ms);
  woke_at_ticks_ = core_ticks();
}

}  // namespace pigeon::board
