// What this board's Mbed TLS build asks of the platform (pigeon_mbedtls_config.h):
// formatting without newlib's stdio (which allocates), diagnostics to the UART,
// and a stop instead of exit().
#include <cstdarg>
#include <cstdio>

#include "hal/text_format.hpp"
#include <mbedtls/platform_time.h>

#include "semihosting.hpp"
#include "systick_clock.hpp"
#include "uart.hpp"

extern "C" int pigeon_mbedtls_snprintf(char* out, size_t size, const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  const int length = pigeon::hal::format_text(out, size, format, args);
  va_end(args);
  return length;
}

namespace {

int print_to_uart(const char* format, std::va_list args) {
  char line[160];
  const int length = pigeon::hal::format_text(line, sizeof line, format, args);
  pigeon::board::uart_write(line);
  return length;
}

}  // namespace

extern "C" int pigeon_mbedtls_fprintf(FILE*, const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  const int length = print_to_uart(format, args);
  va_end(args);
  return length;
}

extern "C" int pigeon_mbedtls_printf(const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  const int length = print_to_uart(format, args);
  va_end(args);
  return length;
}

extern "C" void pigeon_mbedtls_exit(int status) { pigeon::board::semihosting_exit(status); }

extern "C" void* pigeon_mbedtls_no_calloc(size_t, size_t) { return nullptr; }
extern "C" void pigeon_mbedtls_no_free(void*) {}

// Mbed TLS's clocks: the board's SysTick and its build-time-based wall clock.
extern "C" time_t pigeon_mbedtls_time(time_t* out) {
  const auto now = static_cast<time_t>(pigeon::board::SysTickClock{}.unix_time_s());
  if (out != nullptr) *out = now;
  return now;
}

extern "C" mbedtls_ms_time_t mbedtls_ms_time(void) {
  return static_cast<mbedtls_ms_time_t>(pigeon::board::SysTickClock{}.monotonic_ms());
}
