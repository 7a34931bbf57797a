// CRC-32 (IEEE 802.3, reflected, as zlib computes it) for spool records.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace pigeon {

// Continues a CRC: start with crc = 0, feed pieces in order. It looks up
// PIGEON_CRC32_TABLE_BITS bits at a time (pigeon_limits.hpp).
std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);

// The table of the CRC for `bits` bits at a time, computed at compile time.
template <unsigned bits>
constexpr std::array<std::uint32_t, (1u << bits)> make_crc32_table() {
  std::array<std::uint32_t, (1u << bits)> table{};
  for (std::uint32_t i = 0; i < table.size(); ++i) {
    std::uint32_t value = i;
    for (unsigned bit = 0; bit < bits; ++bit) value = (value & 1) ? (value >> 1) ^ 0xEDB88320u : value >> 1;
    table[i] = value;
  }
  return table;
}

template <unsigned bits>
inline constexpr auto crc32_table = make_crc32_table<bits>();

// crc32() with a table of 2^bits entries: 8 bits, 1 KiB and one lookup per
// byte; 4 bits, 64 bytes and two lookups per byte (a board short of flash).
template <unsigned bits>
std::uint32_t crc32_with_table(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
  static_assert(bits == 4 || bits == 8, "a byte is one or two lookups");
  constexpr std::uint32_t mask = (1u << bits) - 1;
  crc = ~crc;
  for (const std::uint8_t byte : bytes) {
    for (unsigned shift = 0; shift < 8; shift += bits) {
      crc = crc32_table<bits>[(crc ^ (static_cast<std::uint32_t>(byte) >> shift)) & mask] ^ (crc >> bits);
    }
  }
  return ~crc;
}

}  // namespace pigeon
