#include "memory_flash.hpp"

#include <algorithm>
#include <cstring>

namespace pigeon::hal {

bool MemoryFlash::in_range(std::uint32_t address, std::size_t length) const {
  const std::size_t size = std::min<std::size_t>(region_.size(), geometry_.total_bytes());
  return address <= size && length <= size - address;
}

FlashStatus MemoryFlash::read(std::uint32_t address, std::span<std::uint8_t> out) {
  if (!in_range(address, out.size())) return FlashStatus::out_of_range;
  std::memcpy(out.data(), region_.data() + address, out.size());
  return FlashStatus::ok;
}

FlashStatus MemoryFlash::program(std::uint32_t address, std::span<const std::uint8_t> data) {
  if (!in_range(address, data.size())) return FlashStatus::out_of_range;
  const std::uint32_t unit = geometry_.program_unit_bytes;
  if (address % unit != 0 || data.size() % unit != 0) return FlashStatus::misaligned;
  const std::span<std::uint8_t> target = region_.subspan(address, data.size());
  const bool erased = std::all_of(target.begin(), target.end(), [](std::uint8_t b) { return b == 0xFF; });
  if (!erased) return FlashStatus::rule_violation;
  std::memcpy(target.data(), data.data(), data.size());
  return FlashStatus::ok;
}

FlashStatus MemoryFlash::erase(std::uint32_t sector_index) {
  if (sector_index >= geometry_.sector_count) return FlashStatus::out_of_range;
  const std::uint32_t size = geometry_.sector_size_bytes;
  if (!in_range(sector_index * size, size)) return FlashStatus::out_of_range;
  std::memset(region_.data() + sector_index * size, 0xFF, size);
  return FlashStatus::ok;
}

}  // namespace pigeon::hal
