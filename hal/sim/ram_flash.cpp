#include "ram_flash.hpp"

#include <algorithm>
#include <cstring>

namespace pigeon::hal {

RamFlash::RamFlash(const FlashGeometry& geometry, std::span<std::uint8_t> storage, std::span<std::uint8_t> unit_state)
    : geometry_(geometry), storage_(storage), unit_programmed_(unit_state) {
  std::fill(storage_.begin(), storage_.end(), 0xFF);
  std::fill(unit_programmed_.begin(), unit_programmed_.end(), 0);
}

FlashStatus RamFlash::read(std::uint32_t address, std::span<std::uint8_t> out) {
  if (lost_) return FlashStatus::power_lost;
  if (std::uint64_t{address} + out.size() > storage_.size()) return FlashStatus::out_of_range;
  if (unreadable_address_ >= address && unreadable_address_ - address < out.size()) return FlashStatus::io_error;
  std::memcpy(out.data(), storage_.data() + address, out.size());
  ++counts_[address / geometry_.sector_size_bytes].reads;
  if (observer_ != nullptr) observer_->flash_read(address, out.size());
  return FlashStatus::ok;
}

FlashStatus RamFlash::program(std::uint32_t address, std::span<const std::uint8_t> data) {
  if (lost_) return FlashStatus::power_lost;
  const std::uint32_t unit = geometry_.program_unit_bytes;
  if (std::uint64_t{address} + data.size() > storage_.size()) return FlashStatus::out_of_range;
  if (address % unit != 0 || data.size() % unit != 0) return FlashStatus::misaligned;
  const std::size_t first = address / unit;
  const std::size_t count = data.size() / unit;
  for (std::size_t i = first; i < first + count; ++i) {
    if (unit_programmed_[i] != 0) return FlashStatus::rule_violation;
  }
  if (cut_now()) {
    if (faults_.tear()) tear_program(address, data);
    return FlashStatus::power_lost;
  }
  // NOR programming only clears bits.
  for (std::size_t i = 0; i < data.size(); ++i) storage_[address + i] &= data[i];
  std::fill_n(unit_programmed_.begin() + static_cast<std::ptrdiff_t>(first), count, 1);
  SectorCounts& sector = counts_[address / geometry_.sector_size_bytes];
  ++sector.programs;
  sector.bytes_programmed += data.size();
  faults_.count_operation();
  return FlashStatus::ok;
}

FlashStatus RamFlash::erase(std::uint32_t sector_index) {
  if (lost_) return FlashStatus::power_lost;
  if (sector_index >= geometry_.sector_count) return FlashStatus::out_of_range;
  if (cut_now()) {
    if (faults_.tear()) tear_erase(sector_index);
    return FlashStatus::power_lost;
  }
  const std::size_t start = std::size_t{sector_index} * geometry_.sector_size_bytes;
  std::fill_n(storage_.begin() + static_cast<std::ptrdiff_t>(start), geometry_.sector_size_bytes, 0xFF);
  const std::uint32_t units = geometry_.sector_size_bytes / geometry_.program_unit_bytes;
  std::fill_n(unit_programmed_.begin() + static_cast<std::ptrdiff_t>(start / geometry_.program_unit_bytes), units, 0);
  ++counts_[sector_index].erases;
  faults_.count_operation();
  return FlashStatus::ok;
}

FlashStatus RamFlash::sync() { return lost_ ? FlashStatus::power_lost : FlashStatus::ok; }

void RamFlash::cut_power_after(std::uint64_t operations, bool tear, std::uint32_t seed) {
  faults_.cut_after(operations, tear, seed);
}

void RamFlash::restore_power() {
  lost_ = false;
  faults_.disarm();
}

void RamFlash::flip_bit(std::uint32_t address, std::uint8_t bit) {
  storage_[address] = static_cast<std::uint8_t>(storage_[address] ^ (1u << (bit & 7u)));
}

bool RamFlash::cut_now() {
  if (!faults_.cut_now()) return false;
  lost_ = true;
  return true;
}

// The plan's bytes are written, and its units count as programmed, as on a
// chip with ECC.
void RamFlash::tear_program(std::uint32_t address, std::span<const std::uint8_t> data) {
  const std::uint32_t unit = geometry_.program_unit_bytes;
  const TornProgram torn = faults_.torn_program(static_cast<std::uint32_t>(data.size()), unit);
  for (std::uint32_t i = 0; i < torn.bytes_written; ++i) storage_[address + i] &= data[i];
  std::fill_n(unit_programmed_.begin() + address / unit, torn.units_touched, 1);
}

// Units wholly inside the erased stretch become programmable again.
void RamFlash::tear_erase(std::uint32_t sector_index) {
  const std::uint32_t size = geometry_.sector_size_bytes;
  const std::uint32_t unit = geometry_.program_unit_bytes;
  const TornErase torn = faults_.torn_erase(size);
  const std::size_t start = std::size_t{sector_index} * size;
  std::fill(storage_.begin() + static_cast<std::ptrdiff_t>(start + torn.from),
            storage_.begin() + static_cast<std::ptrdiff_t>(start + torn.to), 0xFF);
  for (std::uint32_t u = torn.first_whole_unit(unit); u < torn.end_whole_unit(unit); ++u) {
    unit_programmed_[start / unit + u] = 0;
  }
}

}  // namespace pigeon::hal
