// Entropy HAL: the seed source for Mbed TLS's DRBG, key generation and salts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pigeon::hal {

class Entropy {
 public:
  // Fills all of `out` with unpredictable bytes; false when the source failed
  // (the caller must then refuse to generate keys or start TLS).
  virtual bool fill(std::span<std::uint8_t> out) = 0;

 protected:
  ~Entropy() = default;
};

}  // namespace pigeon::hal
