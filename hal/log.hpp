// Log HAL: one line per event. Backends write to stderr (host) or a UART (boards).
#pragma once

#include <cstdarg>

namespace pigeon::hal {

enum class LogLevel { debug, info, warning, error };

class Log {
 public:
  // printf-style; the backend formats into a fixed buffer, truncating long lines.
  virtual void vwrite(LogLevel level, const char* format, std::va_list args) = 0;

  [[gnu::format(printf, 3, 4)]] void write(LogLevel level, const char* format, ...) {
    std::va_list args;
    va_start(args, format);
    vwrite(level, format, args);
    va_end(args);
  }

 protected:
  ~Log() = default;
};

}  // namespace pigeon::hal
