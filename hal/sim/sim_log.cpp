#include "sim_log.hpp"

#include <algorithm>
#include <cstdint>

#include "hal/text_format.hpp"

namespace pigeon::hal {
namespace {

char level_letter(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return 'D';
    case LogLevel::info: return 'I';
    case LogLevel::warning: return 'W';
    case LogLevel::error: return 'E';
  }
  return '?';
}

}  // namespace

// "d+hh:mm:ss.mmm host L text": days, then the time of day, in simulated time.
void SimLog::vwrite(LogLevel level, const char* format, std::va_list args) {
  if (level < threshold_) return;
  char body[512];
  const int formatted = format_text(body, sizeof body, format, args);
  const std::size_t body_length = std::min(static_cast<std::size_t>(formatted < 0 ? 0 : formatted), sizeof body - 1);
  const std::uint64_t now_ms = time_.now_ms();
  const std::uint64_t seconds = now_ms / 1000;
  char line[600];
  const int prefix = format_text(line, sizeof line, "%llu+%02llu:%02llu:%02llu.%03llu %.*s %c ",
                                 static_cast<unsigned long long>(seconds / 86400),
                                 static_cast<unsigned long long>(seconds / 3600 % 24),
                                 static_cast<unsigned long long>(seconds / 60 % 60),
                                 static_cast<unsigned long long>(seconds % 60),
                                 static_cast<unsigned long long>(now_ms % 1000), static_cast<int>(host_name_.size()),
                                 host_name_.data(), level_letter(level));
  const std::size_t used = std::min(static_cast<std::size_t>(prefix < 0 ? 0 : prefix), sizeof line - 1);
  const std::size_t text = escape_control_bytes(body, body_length, line + used, sizeof line - used);
  sink_.log_line({line, used + text});
}

}  // namespace pigeon::hal
