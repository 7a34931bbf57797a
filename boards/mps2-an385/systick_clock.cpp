#include "systick_clock.hpp"

extern "C" void systick_handler();

namespace pigeon::board {
namespace {

volatile std::uint64_t milliseconds = 0;

volatile std::uint32_t& reg(std::uintptr_t address) { return *reinterpret_cast<volatile std::uint32_t*>(address); }
constexpr std::uintptr_t syst_csr = 0xE000E010, syst_rvr = 0xE000E014, syst_cvr = 0xE000E018;
constexpr std::uint32_t reload = core_clock_hz / 1000 - 1;

}  // namespace

void SysTickClock::start() {
  reg(syst_rvr) = reload;
  reg(syst_cvr) = 0;
  reg(syst_csr) = 0x7;  // core clock, interrupt, enable
}

// A 64-bit read is two loads; read until no tick came in between.
std::uint64_t SysTickClock::monotonic_ms() {
  std::uint64_t first, second;
  do {
    first = milliseconds;
    second = milliseconds;
  } while (first != second);
  return first;
}

std::int64_t SysTickClock::unix_time_s() {
  return PIGEON_BUILD_UNIX_S + static_cast<std::int64_t>(monotonic_ms() / 1000);
}

std::uint32_t SysTickClock::ticks_into_millisecond() { return reload - reg(syst_cvr); }

}  // namespace pigeon::board

void systick_handler() { pigeon::board::milliseconds = pigeon::board::milliseconds + 1; }
