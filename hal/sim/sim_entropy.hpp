// Entropy HAL of one simulated host: bytes from the simulator's seeded
// generator, so the relay's DRBG, its keys and its TLS handshakes come out the
// same for the same seed.
#pragma once

#include "hal/entropy.hpp"
#include "hal/sim/sim_random.hpp"

namespace pigeon::hal {

class SimEntropy final : public Entropy {
 public:
  explicit SimEntropy(std::uint64_t seed) : random_(seed) {}

  bool fill(std::span<std::uint8_t> out) override {
    for (std::uint8_t& byte : out) byte = static_cast<std::uint8_t>(random_.next() >> 56);
    return true;
  }

 private:
  SimRandom random_;
};

}  // namespace pigeon::hal
