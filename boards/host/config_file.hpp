// The host's configuration file, in pigeon's format or OpenWrt's UCI format
// (firmware/config.hpp, ConfigReader): read once at start-up.
#pragma once

#include <cstddef>

#include "firmware/config.hpp"

namespace pigeon::host {

// The longest line the file may hold, without its line end. A longer one is
// refused whole, never read as two lines.
inline constexpr std::size_t max_config_line_bytes = 1023;

struct ConfigFileResult {
  bool readable = false;  // false: the file could not be opened
  int refused_lines = 0;
};

// Applies every line of `path` to `config`. With `program` set, each refused
// line is reported on stderr as "PROGRAM: PATH:LINE: REASON"; without it (the
// commands that only look for the relay's socket) refusals stay silent: they
// are the relay's to report.
ConfigFileResult read_config_file(const char* path, RelayConfig& config, const char* program);

}  // namespace pigeon::host
