// Mbed TLS's only memory: one static arena (docs/architecture.md §4), sized for the
// configured number of concurrent TLS sessions. Its high-water mark is reported.
#pragma once

#include <cstddef>

#include "pigeon_limits.hpp"

#define PIGEON_TLS_ARENA_BYTES (PIGEON_TLS_SESSIONS * PIGEON_TLS_SESSION_BYTES + PIGEON_TLS_SHARED_BYTES)

namespace pigeon {

// Hands the arena to Mbed TLS. Call once, before any other Mbed TLS call.
void tls_arena_init();

struct TlsArenaUsage {
  std::size_t capacity_bytes;
  std::size_t current_bytes;
  std::size_t high_water_bytes;
};
TlsArenaUsage tls_arena_usage();

}  // namespace pigeon
