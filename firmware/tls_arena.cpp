#include "tls_arena.hpp"

#include <mbedtls/memory_buffer_alloc.h>

#include <array>
#include <cstdint>

#include "protocol/assert.hpp"

namespace pigeon {
namespace {

alignas(16) std::array<unsigned char, PIGEON_TLS_ARENA_BYTES> arena;
bool initialised = false;
std::size_t capacity_bytes = 0;  // the part handed to Mbed TLS

}  // namespace

void tls_arena_init(std::size_t server_sessions) {
  if (initialised) return;
  const bool within_build = server_sessions >= 1 && server_sessions <= PIGEON_TLS_SESSIONS;
  PIGEON_ASSERT(within_build);
  capacity_bytes = server_sessions * PIGEON_TLS_SESSION_BYTES + PIGEON_TLS_SHARED_BYTES;
  mbedtls_memory_buffer_alloc_init(arena.data(), capacity_bytes);
  initialised = true;
}

TlsArenaUsage tls_arena_usage() {
  std::size_t current_bytes = 0, current_blocks = 0, max_bytes = 0, max_blocks = 0;
  mbedtls_memory_buffer_alloc_cur_get(&current_bytes, &current_blocks);
  mbedtls_memory_buffer_alloc_max_get(&max_bytes, &max_blocks);
  return {capacity_bytes, current_bytes, max_bytes};
}

}  // namespace pigeon
