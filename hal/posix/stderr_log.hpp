// Log HAL on POSIX: one line per event on stderr, with a monotonic timestamp.
#pragma once

#include "hal/clock.hpp"
#include "hal/log.hpp"

namespace pigeon::hal {

class StderrLog final : public Log {
 public:
  StderrLog(Clock& clock, LogLevel threshold) : clock_(clock), threshold_(threshold) {}
  void vwrite(LogLevel level, const char* format, std::va_list args) override;

 private:
  Clock& clock_;
  LogLevel threshold_;
};

}  // namespace pigeon::hal
