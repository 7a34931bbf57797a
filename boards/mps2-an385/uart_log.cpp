#include "uart_log.hpp"

#include <algorithm>
#include <string_view>

#include "hal/text_format.hpp"
#include "uart.hpp"

namespace pigeon::board {
namespace {

const char* level_name(hal::LogLevel level) {
  switch (level) {
    case hal::LogLevel::debug: return "debug";
    case hal::LogLevel::info: return "info";
    case hal::LogLevel::warning: return "warning";
    case hal::LogLevel::error: return "error";
  }
  return "?";
}

}  // namespace

void UartLog::vwrite(hal::LogLevel level, const char* format, std::va_list args) {
  if (level < threshold_) return;
  char body[256];
  const int formatted = hal::format_text(body, sizeof body, format, args);
  const std::size_t body_length = std::min(static_cast<std::size_t>(std::max(formatted, 0)), sizeof body - 1);
  char line[256];
  const std::uint64_t now_ms = clock_.monotonic_ms();
  const int prefix = hal::format_text(line, sizeof line, "pigeon %lu.%03lu %s: ",
                                      static_cast<unsigned long>(now_ms / 1000),
                                      static_cast<unsigned long>(now_ms % 1000), level_name(level));
  const auto used = std::min(static_cast<std::size_t>(std::max(prefix, 0)), sizeof line - 1);
  // The text may hold what a client sent: one event stays one line.
  const std::size_t length = used + hal::escape_control_bytes(body, body_length, line + used, sizeof line - used);
  uart_write({line, length});
  uart_write("\n");
}

}  // namespace pigeon::board
