// The host's configuration file, in pigeon's format or OpenWrt's UCI format
// (firmware/config.hpp, ConfigReader): read once at start-up.
#pragma once

#include "firmware/config.hpp"

namespace pigeon::host {

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
