#include "stderr_log.hpp"

#include <unistd.h>

#include <cstdio>

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
  // Formatted into a fixed buffer and written with one write(2): no stdio
  // buffering (which would allocate) and no interleaving of half lines.
  char line[512];
  const std::uint64_t now_ms = clock_.monotonic_ms();
  int used = std::snprintf(line, sizeof line, "pigeon %llu.%03llu %s: ",
                           static_cast<unsigned long long>(now_ms / 1000),
                           static_cast<unsigned long long>(now_ms % 1000), level_name(level));
  if (used < 0) return;
  const int body = std::vsnprintf(line + used, sizeof line - static_cast<std::size_t>(used) - 1, format, args);
  if (body > 0) used += body;
  if (used > static_cast<int>(sizeof line) - 2) used = static_cast<int>(sizeof line) - 2;
  line[used++] = '\n';
  const ssize_t ignored = ::write(STDERR_FILENO, line, static_cast<std::size_t>(used));
  (void)ignored;
}

}  // namespace pigeon::hal
