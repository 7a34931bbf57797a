// Flash HAL in RAM for tests and simulation, with the NOR rules of hal/flash.hpp
// enforced and faults injected on demand: power cut after N operations (an
// operation is one program or one erase), the cut operation torn, bits flipped
// in stored data. Counts reads, programs and erases per sector. The storage is
// the caller's, so this backend allocates nothing.
#pragma once

#include <array>
#include <cstdint>

#include "hal/flash.hpp"
#include "hal/sim/flash_faults.hpp"

namespace pigeon::hal {

// Sees every read, e.g. to check that mount reads each header once.
class FlashReadObserver {
 public:
  virtual void flash_read(std::uint32_t address, std::size_t bytes) = 0;

 protected:
  ~FlashReadObserver() = default;
};

class RamFlash final : public Flash {
 public:
  static constexpr std::uint32_t max_sectors = 1024;

  struct SectorCounts {
    std::uint64_t reads = 0;
    std::uint64_t programs = 0;
    std::uint64_t erases = 0;
    std::uint64_t bytes_programmed = 0;
  };

  // `storage` holds total_bytes() bytes, `unit_state` one byte per program
  // unit. Both start erased (all 0xFF, nothing programmed).
  RamFlash(const FlashGeometry& geometry, std::span<std::uint8_t> storage, std::span<std::uint8_t> unit_state);

  FlashGeometry geometry() const override { return geometry_; }
  FlashStatus read(std::uint32_t address, std::span<std::uint8_t> out) override;
  FlashStatus program(std::uint32_t address, std::span<const std::uint8_t> data) override;
  FlashStatus erase(std::uint32_t sector_index) override;
  FlashStatus sync() override;

  // After `operations` more operations complete, the next one is cut: it
  // fails with power_lost, torn when `tear` is set (chosen by `seed`), and the
  // device answers power_lost until restore_power().
  void cut_power_after(std::uint64_t operations, bool tear, std::uint32_t seed);
  // Takes back a cut that has not happened yet.
  void disarm_power_cut() { faults_.disarm(); }
  void restore_power();
  bool power_lost() const { return lost_; }
  // Programs and erases completed since construction.
  std::uint64_t operations() const { return faults_.operations(); }
  void flip_bit(std::uint32_t address, std::uint8_t bit);
  // Every read that covers `address` fails with io_error from now on (a worn
  // or disturbed cell the chip's ECC cannot correct); UINT32_MAX: none.
  void fail_reads_at(std::uint32_t address) { unreadable_address_ = address; }

  const SectorCounts& counts(std::uint32_t sector) const { return counts_[sector]; }
  void reset_counts() { counts_ = {}; }
  void set_read_observer(FlashReadObserver* observer) { observer_ = observer; }

 private:
  bool cut_now();
  void tear_program(std::uint32_t address, std::span<const std::uint8_t> data);
  void tear_erase(std::uint32_t sector_index);

  FlashGeometry geometry_;
  std::span<std::uint8_t> storage_;
  std::span<std::uint8_t> unit_programmed_;
  std::array<SectorCounts, max_sectors> counts_{};
  FlashReadObserver* observer_ = nullptr;
  FlashFaults faults_;
  bool lost_ = false;
  std::uint32_t unreadable_address_ = UINT32_MAX;
};

}  // namespace pigeon::hal
