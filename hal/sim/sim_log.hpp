// Log HAL of one simulated host: each line carries the simulated time and the
// host's name and goes to the simulator's sink (its trace, its hash of the
// run), so that two runs of one seed can be compared line by line.
#pragma once

#include <string_view>

#include "hal/log.hpp"
#include "hal/sim/sim_time.hpp"

namespace pigeon::hal {

class SimLogSink {
 public:
  virtual void log_line(std::string_view line) = 0;

 protected:
  ~SimLogSink() = default;
};

class SimLog final : public Log {
 public:
  // `host_name` must outlive the log.
  SimLog(const SimTime& time, std::string_view host_name, LogLevel threshold, SimLogSink& sink)
      : time_(time), host_name_(host_name), threshold_(threshold), sink_(sink) {}

  void vwrite(LogLevel level, const char* format, std::va_list args) override;

 private:
  const SimTime& time_;
  std::string_view host_name_;
  LogLevel threshold_;
  SimLogSink& sink_;
};

}  // namespace pigeon::hal
