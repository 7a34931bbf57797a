// Reset, vector table and fault handling for mps2-an385 (Cortex-M3). The reset
// handler sets up C++ (data, bss, constructors), arms the MPU guard after the
// RAM budget and calls main(). Faults print to the UART and stop QEMU.
#include <cstdint>
#include <cstring>

#include "semihosting.hpp"
#include "uart.hpp"

extern "C" {
extern std::uint32_t __stack_bottom, __stack_top;
extern std::uint32_t __data_start, __data_end, __data_load;
extern std::uint32_t __bss_start, __bss_end;
extern std::uint32_t __ram_guard;
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
int main();
void reset_handler();
void fault_handler();
void default_handler();
void systick_handler();
void lan9118_irq_handler();
}

namespace {

volatile std::uint32_t& reg(std::uintptr_t address) { return *reinterpret_cast<volatile std::uint32_t*>(address); }

constexpr std::uintptr_t mpu_rnr = 0xE000ED98, mpu_rbar = 0xE000ED9C, mpu_rasr = 0xE000EDA0, mpu_ctrl = 0xE000ED94;
constexpr std::uintptr_t shcsr = 0xE000ED24;

// Region 0: 32 KB of no access right after the RAM budget. PRIVDEFENA keeps the
// default map everywhere else.
void arm_ram_guard() {
  const auto guard = reinterpret_cast<std::uintptr_t>(&__ram_guard);
  constexpr std::uint32_t size_32k = 14;  // 2^(14+1) bytes
  constexpr std::uint32_t execute_never = 1u << 28, no_access = 0u << 24;
  reg(mpu_rnr) = 0;
  reg(mpu_rbar) = static_cast<std::uint32_t>(guard);
  reg(mpu_rasr) = execute_never | no_access | (size_32k << 1) | 1u;
  reg(shcsr) |= (1u << 16) | (1u << 17) | (1u << 18);  // MemManage, BusFault, UsageFault
  reg(mpu_ctrl) = (1u << 2) | 1u;                      // PRIVDEFENA | ENABLE
  asm volatile("dsb\n isb" ::: "memory");
}

// Fills the unused stack below this frame with a pattern, so that the deepest
// use shows as the first overwritten word (the board tests read it).
[[gnu::noinline]] void paint_stack() {
  constexpr std::uint32_t paint = 0x5717C0DE;
  auto* word = &__stack_bottom;
  auto* const frame = static_cast<std::uint32_t*>(__builtin_frame_address(0)) - 16;
  while (word < frame) *word++ = paint;
}

}  // namespace

void reset_handler() {
  std::memcpy(&__data_start, &__data_load,
              reinterpret_cast<std::uintptr_t>(&__data_end) - reinterpret_cast<std::uintptr_t>(&__data_start));
  std::memset(&__bss_start, 0,
              reinterpret_cast<std::uintptr_t>(&__bss_end) - reinterpret_cast<std::uintptr_t>(&__bss_start));
  for (auto* constructor = __init_array_start; constructor != __init_array_end; ++constructor) (*constructor)();
  arm_ram_guard();
  paint_stack();
  pigeon::board::semihosting_exit(main());
}

void fault_handler() {
  std::uint32_t cfsr = reg(0xE000ED28), address = reg(0xE000ED34), bus_address = reg(0xE000ED38);
  pigeon::board::uart_write("\r\npigeon: FAULT cfsr=");
  pigeon::board::uart_write_hex(cfsr);
  pigeon::board::uart_write(" mmfar=");
  pigeon::board::uart_write_hex(address);
  pigeon::board::uart_write(" bfar=");
  pigeon::board::uart_write_hex(bus_address);
  pigeon::board::uart_write("\r\n");
  pigeon::board::semihosting_exit(70);
}

void default_handler() { fault_handler(); }

// The C++ library's out-of-range and similar checks end here (the board has no
// exceptions); newlib's own abort() would pull in signal(), which allocates.
extern "C" void abort() {
  pigeon::board::uart_write("\r\npigeon: abort\r\n");
  pigeon::board::semihosting_exit(134);
}

// Cortex-M vectors, then the external interrupts up to LAN9118 (IRQ 13).
using Handler = void (*)();
[[gnu::section(".isr_vector"), gnu::used]] const Handler vector_table[16 + 14] = {
    reinterpret_cast<Handler>(&__stack_top),
    reset_handler,
    default_handler,  // NMI
    fault_handler,    // HardFault
    fault_handler,    // MemManage (the RAM guard)
    fault_handler,    // BusFault (stack overflow below RAM)
    fault_handler,    // UsageFault
    nullptr, nullptr, nullptr, nullptr,
    default_handler,  // SVCall
    default_handler,  // DebugMon
    nullptr,
    default_handler,  // PendSV
    systick_handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
    default_handler,
    lan9118_irq_handler,  // IRQ 13
};
