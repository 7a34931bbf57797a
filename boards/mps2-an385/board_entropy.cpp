#include "board_entropy.hpp"

#include <mbedtls/sha256.h>

#include <algorithm>

#include "systick_clock.hpp"

namespace pigeon::board {
namespace {

// Timer readings separated by work whose length varies with the host's timing.
void mix_jitter(mbedtls_sha256_context& hash) {
  for (int sample = 0; sample < 16; ++sample) {
    const std::uint32_t ticks = SysTickClock::ticks_into_millisecond();
    mbedtls_sha256_update(&hash, reinterpret_cast<const unsigned char*>(&ticks), sizeof ticks);
  }
}

}  // namespace

void BoardEntropy::add_seed(std::span<const std::uint8_t> seed) {
  mbedtls_sha256_context hash;
  mbedtls_sha256_init(&hash);
  mbedtls_sha256_starts(&hash, 0);
  mbedtls_sha256_update(&hash, pool_.data(), pool_.size());
  mbedtls_sha256_update(&hash, seed.data(), seed.size());
  mix_jitter(hash);
  mbedtls_sha256_finish(&hash, pool_.data());
  mbedtls_sha256_free(&hash);
}

bool BoardEntropy::fill(std::span<std::uint8_t> out) {
  while (!out.empty()) {
    std::array<std::uint8_t, 32> block{};
    mbedtls_sha256_context hash;
    mbedtls_sha256_init(&hash);
    mbedtls_sha256_starts(&hash, 0);
    mbedtls_sha256_update(&hash, pool_.data(), pool_.size());
    ++counter_;
    mbedtls_sha256_update(&hash, reinterpret_cast<const unsigned char*>(&counter_), sizeof counter_);
    mix_jitter(hash);
    mbedtls_sha256_finish(&hash, block.data());
    mbedtls_sha256_free(&hash);
    const std::size_t used = std::min(out.size(), block.size());
    std::copy_n(block.begin(), used, out.begin());
    out = out.subspan(used);
  }
  return true;
}

}  // namespace pigeon::board
