// tools/simulate: runs a scenario of tools/scenarios/ in a simulated world for
// one seed or a range of seeds, prints a progress line per simulated hour and
// a summary per seed, and stops at the first violated invariant with the
// command that replays it (docs/simulation.md).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <mbedtls/memory_buffer_alloc.h>

#include "protocol/assert.hpp"
#include "scenario.hpp"
#include "world.hpp"

namespace {

// Room for five relays, each with 16 server sessions, and as many client
// sessions at their handshake peak (firmware/pigeon_limits.hpp's per-session
// bytes), with the shared state of every relay, smarthost and client.
constexpr std::size_t world_tls_arena_bytes = 32u * 1024 * 1024;

// What a failed PIGEON_ASSERT needs to say to be replayed.
std::string replay_command;

int usage() {
  std::fprintf(stderr,
               "usage: simulate SCENARIO [--seed N | --seeds A..B] [--duration 24h] [--trace FILE]\n"
               "                [--series FILE] [--quiet] [--twice]\n"
               "  --twice   runs each seed twice and fails unless both runs are identical\n");
  return 2;
}

struct Options {
  const char* scenario_path = nullptr;
  std::uint64_t first_seed = 1, last_seed = 1;
  const char* duration = nullptr;
  const char* trace_path = nullptr;
  const char* series_path = nullptr;
  bool quiet = false;
  bool twice = false;
};

bool parse_seeds(const std::string& text, Options& options) {
  const std::size_t dots = text.find("..");
  char* end = nullptr;
  options.first_seed = std::strtoull(text.c_str(), &end, 10);
  if (dots == std::string::npos) {
    options.last_seed = options.first_seed;
    return *end == '\0';
  }
  options.last_seed = std::strtoull(text.c_str() + dots + 2, &end, 10);
  return *end == '\0' && options.last_seed >= options.first_seed;
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if ((arg == "--seed" || arg == "--seeds") && has_value) {
      if (!parse_seeds(argv[++i], options)) return false;
    } else if (arg == "--duration" && has_value) {
      options.duration = argv[++i];
    } else if (arg == "--trace" && has_value) {
      options.trace_path = argv[++i];
    } else if (arg == "--series" && has_value) {
      options.series_path = argv[++i];
    } else if (arg == "--quiet") {
      options.quiet = true;
    } else if (arg == "--twice") {
      options.twice = true;
    } else if (arg[0] != '-' && options.scenario_path == nullptr) {
      options.scenario_path = argv[i];
    } else {
      return false;
    }
  }
  return options.scenario_path != nullptr;
}

std::string replay(const Options& options, std::uint64_t seed) {
  std::string command = std::string("tools/simulate ") + options.scenario_path + " --seed " + std::to_string(seed);
  if (options.duration != nullptr) command += std::string(" --duration ") + options.duration;
  return command + " --trace trace.log";
}

// One seed: the summary, its speed, and on a violation the replay command.
bool run_seed(const pigeon::sim::Scenario& scenario, const Options& options, std::uint64_t seed) {
  replay_command = replay(options, seed);
  std::FILE* trace = options.trace_path != nullptr ? std::fopen(options.trace_path, "w") : nullptr;
  std::FILE* series = options.series_path != nullptr ? std::fopen(options.series_path, "w") : nullptr;
  pigeon::sim::RunOptions run{seed, trace, series, options.quiet ? nullptr : stdout};
  const auto started = std::chrono::steady_clock::now();
  const pigeon::sim::RunResult result = pigeon::sim::run_world(scenario, run);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (trace != nullptr) std::fclose(trace);
  if (series != nullptr) std::fclose(series);
  std::printf("%s", result.summary.c_str());
  std::printf("  wall time   %.2f s, %.0f simulated seconds per wall second\n", wall_s,
              static_cast<double>(result.simulated_ms) / 1000.0 / (wall_s > 0 ? wall_s : 1e-9));
  if (options.twice) {
    const pigeon::sim::RunResult again = pigeon::sim::run_world(scenario, {seed, nullptr, nullptr, nullptr});
    if (again.summary != result.summary || again.event_hash != result.event_hash) {
      std::printf("NOT DETERMINISTIC: seed %llu gave a different run the second time:\n%s",
                  static_cast<unsigned long long>(seed), again.summary.c_str());
      return false;
    }
    std::printf("  determinism the second run gave the same event log and summary\n");
  }
  if (!result.ok) {
    std::printf("VIOLATION (seed %llu): %s\n  replay: %s\n", static_cast<unsigned long long>(seed),
                result.violation.c_str(), replay_command.c_str());
  }
  std::fflush(stdout);
  return result.ok;
}

}  // namespace

// PIGEON_ASSERT in the relay during a simulation: the seed that reaches it.
void pigeon::assert_failed(const char* condition, const char* file, int line) noexcept {
  std::fflush(stdout);
  std::fprintf(stderr, "pigeon: assertion failed: %s (%s:%d)\n  replay: %s\n", condition, file, line,
               replay_command.c_str());
  std::abort();
}

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) return usage();
  std::ifstream file(options.scenario_path);
  if (!file) {
    std::fprintf(stderr, "simulate: cannot read %s\n", options.scenario_path);
    return 2;
  }
  std::stringstream text;
  text << file.rdbuf();
  std::string error;
  std::optional<pigeon::sim::Scenario> scenario = pigeon::sim::parse_scenario(text.str(), error);
  if (!scenario) {
    std::fprintf(stderr, "simulate: %s: %s\n", options.scenario_path, error.c_str());
    return 2;
  }
  if (options.duration != nullptr) {
    const auto duration = pigeon::sim::parse_duration_ms(options.duration);
    if (!duration || *duration == 0) return usage();
    // Faults and traffic keep their share of the run.
    scenario->faults_until_ms = scenario->faults_until_ms * *duration / scenario->duration_ms;
    scenario->duration_ms = *duration;
  }
  // Mbed TLS has one allocator per process: every relay, smarthost and client
  // of the world shares it. A board's arena holds one relay's sessions
  // (firmware/tls_arena.hpp); the world's is sized for several relays, each
  // with its clients' sessions on both sides, so that no relay runs short
  // because of another (docs/simulation.md, "One process").
  static std::vector<unsigned char> world_tls_arena(world_tls_arena_bytes);
  mbedtls_memory_buffer_alloc_init(world_tls_arena.data(), world_tls_arena.size());
  bool ok = true;
  for (std::uint64_t seed = options.first_seed; ok && seed <= options.last_seed; ++seed) {
    ok = run_seed(*scenario, options, seed);
  }
  return ok ? 0 : 1;
}
