// Flash HAL on POSIX: an image file with NOR rules enforced. Programming a unit
// twice without erasing its sector fails, as it would corrupt a real chip; sync()
// is fdatasync, the host's durability point. Power cuts can be injected as on the
// RAM flash (hal/sim/flash_faults.hpp), so the real binary can be tested for them.
// Reads go through a few cached blocks of the image (see read()).
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
  // A board reads its flash as memory; here each read would be a system call,
  // and the spool reads in small pieces (a 16-byte record header, then a piece
  // of the message after it: 40 reads per message of a POP3 drain). So reads
  // are served from the last few blocks read, which program() and erase() keep
  // equal to the image.
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

  static constexpr std::uint32_t cache_block_bytes = 4096;
  static constexpr std::size_t cache_blocks = 8;
  static constexpr std::uint32_t no_block = UINT32_MAX;
  struct CachedBlock {
    std::uint32_t address = no_block;  // of its first byte, a multiple of cache_block_bytes
    std::uint64_t last_used = 0;       // the cache's use count when it was last read
    std::array<std::uint8_t, cache_block_bytes> bytes;
  };
  // The cached block at `address`, read from the image if need be in place of
  // the least recently used one; nullptr when the image cannot be read.
  const CachedBlock* cached_block(std::uint32_t address);
  // Keeps the cached blocks equal to the image after bytes at `address` changed
  // to `data`.
  void update_cache(std::uint32_t address, std::span<const std::uint8_t> data);
  // Drops the cached blocks that overlap [address, address + length).
  void forget_cached(std::uint32_t address, std::uint32_t length);

  int fd_ = -1;
  FlashGeometry geometry_{};
  // Left uninitialised by the constructor (no 2 MiB memset at start-up):
  // open() marks every unit of the image before anything reads a bit.
  std::array<std::uint8_t, max_units / 8> programmed_;
  std::array<CachedBlock, cache_blocks> cache_;
  std::uint64_t cache_uses_ = 0;
  FlashFaults faults_;
  PowerLossHandler on_power_lost_ = nullptr;
  bool lost_ = false;
};

}  // namespace pigeon::hal
