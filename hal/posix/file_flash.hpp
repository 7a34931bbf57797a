// Flash HAL on POSIX: an image file with NOR rules enforced. Programming a unit
// twice without erasing its sector fails, as it would corrupt a real chip; sync()
// is fdatasync, the host's durability point. Power cuts can be injected as on the
// RAM flash (hal/sim/flash_faults.hpp), so the real binary can be tested for them.
#pragma once

#include <array>
#include <cstdint>

#include "hal/flash.hpp"
#include "hal/sim/flash_faults.hpp"

namespace pigeon::hal {

class FileFlash final : public Flash {
 public:
  // The largest image this backend tracks: 256 MiB in 16-byte units.
  static constexpr std::size_t max_units = 16u * 1024 * 1024;

  // Defined out of line on purpose: a static FileFlash is then zero-filled
  // (.bss) and constructed at start-up. A constexpr constructor would make the
  // compiler store the whole object, bitmap included, in .data: 2 MiB of zeros
  // in the executable (docs/routers.md).
  FileFlash();
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

  // Called when the power is cut. It should not return: nothing runs on a
  // board after its power goes (the host exits). If it does, every later
  // operation fails with power_lost.
  using PowerLossHandler = void (*)();
  // After `operations` more programs and erases complete, the next one is cut:
  // not performed, or torn when `tear` is set (chosen by `seed`); then
  // `on_power_lost` runs.
  void cut_power_after(std::uint64_t operations, bool tear, std::uint32_t seed, PowerLossHandler on_power_lost);

 private:
  bool unit_programmed(std::size_t unit) const;
  void mark_unit(std::size_t unit, bool programmed);
  bool scan_programmed_units();
  bool fill_erased(std::uint64_t offset, std::uint64_t length);
  void mark_sector(std::uint32_t sector_index, std::uint32_t first_unit, std::uint32_t end_unit, bool programmed);
  void tear_program(std::uint32_t address, std::span<const std::uint8_t> data);
  void tear_erase(std::uint32_t sector_index);
  FlashStatus lose_power();

  int fd_ = -1;
  FlashGeometry geometry_{};
  // Left uninitialised by the constructor (no 2 MiB memset at start-up):
  // open() marks every unit of the image before anything reads a bit.
  std::array<std::uint8_t, max_units / 8> programmed_;
  FlashFaults faults_;
  PowerLossHandler on_power_lost_ = nullptr;
  bool lost_ = false;
};

}  // namespace pigeon::hal
