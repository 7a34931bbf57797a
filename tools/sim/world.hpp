// The simulated world: builds the hosts of a scenario on one simulated
// network, draws the faults from the seed, runs every host when it has work,
// moves the time to the next event when none has, and checks the ledger's
// invariants as it goes (docs/simulation.md).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "ledger.hpp"
#include "scenario.hpp"

namespace pigeon::sim {

struct RunOptions {
  std::uint64_t seed = 1;
  std::FILE* trace = nullptr;     // every event line
  std::FILE* series = nullptr;    // CSV samples every 10 simulated minutes
  std::FILE* progress = nullptr;  // a line per simulated hour
};

struct RunResult {
  bool ok = false;
  std::string violation;       // the first invariant that failed
  std::string summary;         // the same for the same seed: no wall time in it
  std::uint64_t simulated_ms = 0;
  std::uint64_t event_hash = 0;  // FNV-1a of every event line
  // The power cuts of every relay: scheduled = fired + skipped_down + unfired.
  std::uint64_t power_cuts_scheduled = 0, power_cuts_fired = 0, power_cuts_skipped_down = 0, power_cuts_unfired = 0;
};

RunResult run_world(const Scenario& scenario, const RunOptions& options);

}  // namespace pigeon::sim
