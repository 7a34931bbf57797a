// Figures the board tests read straight from the board's memory (QMP pmemsave,
// tools/qemu-board): no formatting, no extra protocol, and nothing measured
// changes because it is being read. The board prints their address at boot.
//
// busy_ticks counts core clock ticks (25 MHz) spent outside WFI, ISRs that ran
// during WFI aside. Under QEMU's `-icount shift=0` one tick is 40 guest
// instructions, so a delta around some work is its instruction count.
#pragma once

#include <cstdint>

#include "hal/lwip/lwip_net.hpp"

namespace pigeon::board {

struct BoardCounters {
  std::uint32_t magic = 0x70676e43;  // "Cngp": the tests check they read the right place
  std::uint32_t version = 1;
  std::uint64_t busy_ticks = 0;
  std::uint32_t tls_arena_bytes = 0;
  std::uint32_t tls_arena_high_water_bytes = 0;
  std::uint32_t tls_arena_capacity_bytes = 0;
  std::uint32_t stack_bytes = 0;  // the painted stack region starts at the bottom of RAM
};

extern BoardCounters board_counters;

// Core clock ticks since SysTick started, from the millisecond count and the
// SysTick down-counter.
std::uint64_t core_ticks();

// The NIC's sleep with the time around it accounted: whatever is not spent
// waiting is work. The arena figures are refreshed before each sleep, when no
// handshake is half done.
class MeasuredSleep final : public hal::NetDriver {
 public:
  explicit MeasuredSleep(hal::NetDriver& driver) : driver_(driver) {}
  void service_interfaces() override { driver_.service_interfaces(); }
  void sleep(std::uint32_t max_ms) override;

 private:
  hal::NetDriver& driver_;
  std::uint64_t woke_at_ticks_ = 0;
};

}  // namespace pigeon::board
