// Entropy HAL on POSIX: the kernel's getrandom(2).
#pragma once

#include "hal/entropy.hpp"

namespace pigeon::hal {

class PosixEntropy final : public Entropy {
 public:
  bool fill(std::span<std::uint8_t> out) override;
};

}  // namespace pigeon::hal
