// A scenario: the hosts of a simulated world, their traffic and the faults,
// read from a small INI-style text (docs/simulation.md describes it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors.hpp"
#include "hal/sim/sim_network.hpp"
#include "relay_host.hpp"

namespace pigeon::sim {

struct RelaySpec {
  hal::IpAddress address;
  hal::SimLink link;
  std::string smarthost;  // the name of a [smarthost] section
  RelaySettings settings;
};

struct SmarthostSpec {
  hal::IpAddress address;
  hal::SimLink link;
  SmarthostSettings settings;
};

struct DeviceGroup {
  std::string name;
  std::uint32_t count = 1;
  hal::IpAddress first_address;  // the others follow it
  hal::SimLink link;
  std::string relay;
  DeviceSettings settings;
};

struct ReaderSpec {
  hal::IpAddress address;
  hal::SimLink link;
  std::string relay;
  ReaderSettings settings;
};

struct AlertSpec {
  std::string name, relay, to;
  // Through the relay's alert endpoint, from a host of its own at `address`
  // (the simulated network has no loopback), rather than by calling the API.
  bool via_endpoint = false;
  hal::IpAddress address;
  hal::SimLink link;
  std::uint32_t keys = 1;
  std::uint64_t interval_ms = 60'000;
  std::uint64_t from_ms = 0, until_ms = UINT64_MAX;
};

struct CutSpec {  // `count` cuts between two hosts, each [min, max] long, at `at_ms` or at random times
  std::string a, b;
  std::uint32_t count = 1;
  std::optional<std::uint64_t> at_ms;
  std::uint64_t min_ms = 0, max_ms = 0;
};

struct PowerSpec {  // `count` power cuts of a relay at random times, or one at `at_ms`
  std::string relay;
  std::uint32_t count = 1;
  std::optional<std::uint64_t> at_ms;
  std::optional<bool> torn;  // unset: torn or clean by chance
};

struct ClockJumpSpec {
  std::string relay;
  std::uint64_t at_ms = 0;
  std::int64_t seconds = 0;
};

struct Scenario {
  std::string name;
  std::uint64_t duration_ms = 24 * 3'600'000ull;
  std::uint64_t faults_until_ms = 20 * 3'600'000ull;  // traffic and faults stop then; the rest drains
  std::uint64_t drain_limit_ms = 24 * 3'600'000ull;   // how long past the end to wait for the queues
  std::uint64_t reset_after_ms = 30'000;
  std::int64_t epoch_s = 1'767'225'600;
  std::vector<RelaySpec> relays;
  std::vector<SmarthostSpec> smarthosts;
  std::vector<DeviceGroup> devices;
  std::vector<ReaderSpec> readers;
  std::vector<AlertSpec> alerts;
  std::vector<CutSpec> cuts;
  std::vector<PowerSpec> power_cuts;
  std::vector<ClockJumpSpec> clock_jumps;
};

// Parses `text`; on error, `error` says which line and why.
std::optional<Scenario> parse_scenario(std::string_view text, std::string& error);
// "90s", "15m", "2h", "1d", "250ms"; a bare number is seconds.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text);

}  // namespace pigeon::sim
