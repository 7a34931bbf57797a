#include "flash_faults.hpp"

namespace pigeon::hal {

void FlashFaults::cut_after(std::uint64_t operations, bool tear, std::uint32_t seed) {
  armed_ = true;
  cut_at_ = operations_ + operations;
  tear_ = tear;
  random_state_ = seed * 2654435761u + 1;
}

bool FlashFaults::cut_now() {
  if (!armed_ || operations_ != cut_at_) return false;
  armed_ = false;
  return true;
}

TornProgram FlashFaults::torn_program(std::uint32_t data_bytes, std::uint32_t unit_bytes) {
  const std::uint32_t torn_unit = random_below(data_bytes / unit_bytes);
  return {torn_unit * unit_bytes + 1 + random_below(unit_bytes), torn_unit + 1};
}

TornErase FlashFaults::torn_erase(std::uint32_t sector_bytes) {
  const std::uint32_t from = random_below(sector_bytes);
  return {from, from + 1 + random_below(sector_bytes - from)};
}

// xorshift32: small, and the same sequence on every platform.
std::uint32_t FlashFaults::random_below(std::uint32_t bound) {
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 17;
  random_state_ ^= random_state_ << 5;
  return bound == 0 ? 0 : random_state_ % bound;
}

}  // namespace pigeon::hal
