// Flash HAL on POSIX: an image file with NOR rules enforced. Programming a unit
// twice without erasing its sector fails, as it would corrupt a real chip; sync()
// is fdatasync, the host's durability point.
#pragma once

#include <array>
#include <cstdint>

#include "hal/flash.hpp"

namespace pigeon::hal {

class FileFlash final : public Flash {
 public:
  // The largest image this backend tracks: 256 MiB in 16-byte units.
  static constexpr std::size_t max_units = 16u * 1024 * 1024;

  FileFlash() = default;
  ~FileFlash();
  FileFlash(const FileFlash&) = delete;
  FileFlash& operator=(const FileFlash&) = delete;

  // Opens (or creates, erased) the image. False when it cannot, or when an
  // existing image has a different size.
  bool open(const char* path, const FlashGeometry& geometry);

  FlashGeometry geometry() const override { return geometry_; }
  FlashStatus read(std::uint32_t address, std::span<std::uint8_t> out) override;
  FlashStatus program(std::uint32_t address, std::span<const std::uint8_t> data) override;
  FlashStatus erase(std::uint32_t sector_index) override;
  FlashStatus sync() override;

 private:
  bool unit_programmed(std::size_t unit) const;
  void mark_unit(std::size_t unit, bool programmed);
  bool scan_programmed_units();

  int fd_ = -1;
  FlashGeometry geometry_{};
  std::array<std::uint8_t, max_units / 8> programmed_{};
};

}  // namespace pigeon::hal
