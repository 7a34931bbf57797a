// The log HAL on the board: one formatted line per event on the UART console.
#pragma once

#include "hal/clock.hpp"
#include "hal/log.hpp"

namespace pigeon::board {

class UartLog final : public hal::Log {
 public:
  UartLog(hal::Clock& clock, hal::LogLevel threshold) : clock_(clock), threshold_(threshold) {}
  void vwrite(hal::LogLevel level, const char* format, std::va_list args) override;

 private:
  hal::Clock& clock_;
  hal::LogLevel threshold_;
};

}  // namespace pigeon::board
