// Mbed TLS's only memory: one static arena (docs/architecture.md §4), sized for the
// configured number of concurrent TLS sessions. Its high-water mark is reported.
#pragma once

#include <cstddef>

#include "pigeon_limits.hpp"

#ifndef PIGEON_TLS_SESSION_BYTES
// A session at its handshake peak with 16 KiB record buffers both ways
// (24-31 KB measured with a 4 KiB output buffer; docs/testing.md), plus headroom.
#define PIGEON_TLS_SESSION_BYTES (48u * 1024u)
#endif
#ifndef PIGEON_TLS_SHARED_BYTES
// Configurations, our certificate and key, PSA key slots, the DRBG.
#define PIGEON_TLS_SHARED_BYTES (24u * 1024u)
#endif
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
