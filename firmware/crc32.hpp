// CRC-32 (IEEE 802.3, reflected, as zlib computes it) for spool records.
#pragma once

#include <cstdint>
#include <span>

namespace pigeon {

// Continues a CRC: start with crc = 0, feed pieces in order.
std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);

}  // namespace pigeon
