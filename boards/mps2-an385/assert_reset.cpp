// The board's PIGEON_ASSERT handler: the failed check's place on the console, then a
// system reset. The relay remounts the spool after the reset, so accepted mail
// survives (docs/spool-format.md); staying up with broken state could lose it.
#include <cstddef>
#include <cstdint>

#include "protocol/assert.hpp"
#include "uart.hpp"

namespace pigeon {
namespace {

void write_decimal(std::uint32_t value) {
  char digits[10];
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (count > 0) board::uart_write({&digits[--count], 1});
}

}  // namespace

void assert_failed(const char* condition, const char* file, int line) noexcept {
  // This board's checks leave their condition's text out (PIGEON_ASSERT_CONDITIONS
  // 0); lwIP's name themselves "lwIP".
  board::uart_write("\r\npigeon: assertion failed");
  if (*condition != '\0') {
    board::uart_write(": ");
    board::uart_write(condition);
  }
  board::uart_write(" (");
  board::uart_write(file);
  board::uart_write(":");
  write_decimal(static_cast<std::uint32_t>(line));
  board::uart_write(")\r\n");
  // SCB->AIRCR: VECTKEY and SYSRESETREQ (ARMv7-M Architecture Reference Manual, B3.2.6).
  constexpr std::uintptr_t aircr = 0xE000ED0C;
  asm volatile("dsb" ::: "memory");
  *reinterpret_cast<volatile std::uint32_t*>(aircr) = (0x05FAu << 16) | (1u << 2);
  asm volatile("dsb" ::: "memory");
  for (;;) {
  }
}

}  // namespace pigeon
