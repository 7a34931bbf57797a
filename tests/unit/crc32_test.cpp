#include "firmware/crc32.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

namespace pigeon {
namespace {

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// The check value of CRC-32 (IEEE 802.3, reflected; zlib's crc32), by the
// build's table and by both tables a build may choose.
TEST(Crc32, MatchesTheStandardCheckValue) {
  for (const auto& [text, expected] : {std::pair<std::string_view, std::uint32_t>{"123456789", 0xCBF43926u},
                                       {"", 0u},
                                       {"The quick brown fox jumps over the lazy dog", 0x414FA339u}}) {
    EXPECT_EQ(crc32(bytes_of(text)), expected) << text;
    EXPECT_EQ(crc32_with_table<8>(bytes_of(text), 0), expected) << text;
    EXPECT_EQ(crc32_with_table<4>(bytes_of(text), 0), expected) << text;
  }
}

TEST(Crc32, EveryByteValueAsZlibComputesIt) {
  std::array<std::uint8_t, 256> all{};
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(crc32(all), 0x29058C73u);  // zlib.crc32(bytes(range(256)))
  EXPECT_EQ(crc32_with_table<4>(all, 0), 0x29058C73u);
}

TEST(Crc32, ContinuesAcrossPieces) {
  const std::string_view text = "Subject: pieces\r\n\r\nbody\r\n";
  const std::uint32_t whole = crc32(bytes_of(text));
  for (std::size_t split = 0; split <= text.size(); ++split) {
    EXPECT_EQ(crc32(bytes_of(text.substr(split)), crc32(bytes_of(text.substr(0, split)))), whole) << split;
  }
}

}  // namespace
}  // namespace pigeon
