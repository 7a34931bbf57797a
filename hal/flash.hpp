// Flash HAL with NOR semantics (docs/architecture.md §5): erase turns a whole sector to 0xFF;
// program writes whole program units, each at most once between two erases of its
// sector; read reads anything. Backends enforce these rules so that code which
// breaks them fails on the host exactly as it would corrupt a real chip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pigeon::hal {

struct FlashGeometry {
  std::uint32_t sector_size_bytes;   // erase granularity, 4 KiB .. 128 KiB
  std::uint32_t sector_count;
  std::uint32_t program_unit_bytes;  // program granularity, 1 .. 256 bytes

  constexpr std::uint32_t total_bytes() const { return sector_size_bytes * sector_count; }
};

enum class FlashStatus {
  ok,
  out_of_range,     // address or length outside the device
  misaligned,       // program not on program-unit boundaries
  rule_violation,   // a unit programmed twice without an erase
  io_error,         // the medium failed (host: a file error)
  power_lost,       // fault injection: the device is gone until remount
};

class Flash {
 public:
  virtual FlashGeometry geometry() const = 0;
  virtual FlashStatus read(std::uint32_t address, std::span<std::uint8_t> out) = 0;
  // `address` and `data.size()` are multiples of the program unit.
  virtual FlashStatus program(std::uint32_t address, std::span<const std::uint8_t> data) = 0;
  virtual FlashStatus erase(std::uint32_t sector_index) = 0;
  // Makes every completed program and erase durable. NOR parts are durable at
  // once and return ok; the file-backed host flash calls fdatasync here, which is
  // why the relay batches commits of one loop iteration into one sync.
  virtual FlashStatus sync() = 0;

 protected:
  ~Flash() = default;
};

}  // namespace pigeon::hal
