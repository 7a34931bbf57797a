// Entropy on mps2-an385, which has no TRNG. Every output block is SHA-256 over
// the factory seed (written into the flash image once, when the image is made),
// the boot seed (drawn from the DRBG at every boot and kept in the board record,
// so no two boots start alike) and SysTick jitter sampled at the time of the call.
//
// This is only as good as those seeds: a real board MUST feed its hardware TRNG
// here instead. Under QEMU with -icount the jitter is deterministic, so there the
// seeds alone make the outputs unpredictable. There is never a constant seed: a
// missing factory seed is logged, and jitter is still mixed in.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "hal/entropy.hpp"

namespace pigeon::board {

class BoardEntropy final : public hal::Entropy {
 public:
  void add_seed(std::span<const std::uint8_t> seed);
  bool fill(std::span<std::uint8_t> out) override;

 private:
  std::array<std::uint8_t, 32> pool_{};
  std::uint32_t counter_ = 0;
};

}  // namespace pigeon::board
