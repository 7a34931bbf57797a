// Mbed TLS's only memory: one static arena (docs/architecture.md §4), sized for the
// configured number of concurrent TLS sessions. Its high-water mark is reported.
#pragma once

#include <cstddef>

#include "pigeon_limits.hpp"

#define PIGEON_TLS_ARENA_BYTES (PIGEON_TLS_SESSIONS * PIGEON_TLS_SESSION_BYTES + PIGEON_TLS_SHARED_BYTES)

namespace pigeon {

// Hands Mbed TLS the part of the arena that `server_sessions` concurrent server
// sessions and the shared state need (docs/architecture.md §4). Call once,
// before any other Mbed TLS call. Mbed TLS clears what it is given, so on the
// host a relay configured for fewer sessions never touches the rest, and the
// host board gives back the pages cleared but not used yet (hal/posix/zero_pages.hpp).
void tls_arena_init(std::size_t server_sessions = PIGEON_TLS_SESSIONS);

struct TlsArenaUsage {
  std::size_t capacity_bytes;
  std::size_t current_bytes;
  std::size_t high_water_bytes;
};
TlsArenaUsage tls_arena_usage();

}  // namespace pigeon
