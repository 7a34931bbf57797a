#include "stderr_log.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "hal/text_format.hpp"

namespace pigeon::hal {
namespace {

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "?";
}

}  // namespace

void StderrLog::vwrite(LogLevel level, const char* format, std::va_list args) {
  if (level < threshold_) return;
  // Formatted into fixed buffers and written with one write(2): no stdio
  // buffering (which would allocate) and no interleaving of half lines.
  char body[512];
  const int formatted = std::vsnprintf(body, sizeof body, format, args);
  const std::size_t body_length = formatted < 0 ? 0 : std::min(static_cast<std::size_t>(formatted), sizeof body - 1);
  char line[512];
  const std::uint64_t now_ms = clock_.monotonic_ms();
  const int prefix = std::snprintf(line, sizeof line, "pigeon %llu.%03llu %s: ",
                                   static_cast<unsigned long long>(now_ms / 1000),
                                   static_cast<unsigned long long>(now_ms % 1000), level_name(level));
  if (prefix < 0) return;
  auto used = static_cast<std::size_t>(prefix);
  // The text may hold what a client sent: one event stays one line.
  used += escape_control_bytes(body, body_length, line + used, sizeof line - used - 1);
  line[used++] = '\n';
  const ssize_t ignored = ::write(STDERR_FILENO, line, used);
  (void)ignored;
}

}  // namespace pigeon::hal
