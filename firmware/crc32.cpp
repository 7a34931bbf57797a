#include "crc32.hpp"

#include "pigeon_limits.hpp"

namespace pigeon {

std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
  return crc32_with_table<PIGEON_CRC32_TABLE_BITS>(bytes, crc);
}

}  // namespace pigeon
