#include "tls_arena.hpp"

#include <mbedtls/memory_buffer_alloc.h>

#include <array>
#include <cstdint>

namespace pigeon {
namespace {

alignas(16) std::array<unsigned char, PIGEON_TLS_ARENA_BYTES> arena;
bool initialised = false;

}  // namespace

void tls_arena_init() {
  if (initialised) return;
  mbedtls_memory_buffer_alloc_init(arena.data(), arena.size());
  initialised = true;
}

TlsArenaUsage tls_arena_usage() {
  std::size_t current_bytes = 0, current_blocks = 0, max_bytes = 0, max_blocks = 0;
  mbedtls_memory_buffer_alloc_cur_get(&current_bytes, &current_blocks);
  mbedtls_memory_buffer_alloc_max_get(&max_bytes, &max_blocks);
  return {arena.size(), current_bytes, max_bytes};
}

}  // namespace pigeon
