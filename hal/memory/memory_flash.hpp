// Flash HAL over a region of memory, with NOR rules enforced: erase sets a sector
// to 0xFF, and a program unit may only be programmed while it is still erased.
// Boards without flash use it over a RAM region that the emulator saves and
// restores (mps2-an385 under QEMU); tests use it over a static array. Checking the
// unit's content instead of a bitmap costs no RAM; the one case it lets through,
// programming all-ones twice, changes no bit on a real chip either.
#pragma once

#include <cstdint>
#include <span>

#include "hal/flash.hpp"

namespace pigeon::hal {

class MemoryFlash final : public Flash {
 public:
  // `region` must hold geometry.total_bytes().
  MemoryFlash(std::span<std::uint8_t> region, const FlashGeometry& geometry)
      : region_(region), geometry_(geometry) {}

  FlashGeometry geometry() const override { return geometry_; }
  FlashStatus read(std::uint32_t address, std::span<std::uint8_t> out) override;
  FlashStatus program(std::uint32_t address, std::span<const std::uint8_t> data) override;
  FlashStatus erase(std::uint32_t sector_index) override;
  // Memory keeps what was written at once.
  FlashStatus sync() override { return FlashStatus::ok; }

 private:
  bool in_range(std::uint32_t address, std::size_t length) const;

  std::span<std::uint8_t> region_;
  FlashGeometry geometry_;
};

}  // namespace pigeon::hal
