#include "protocol/output_buffer.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace pigeon::protocol {
namespace {

std::string as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

TEST(OutputBuffer, AppendIsAllOrNothing) {
  std::array<std::uint8_t, 8> storage{};
  OutputBuffer out(storage);
  EXPECT_TRUE(out.append("hello"));
  EXPECT_FALSE(out.append("world"));
  EXPECT_EQ(as_text(out.pending()), "hello");
  EXPECT_EQ(out.free_space(), 3u);
}

TEST(OutputBuffer, ConsumeFreesSpaceForLaterAppends) {
  std::array<std::uint8_t, 8> storage{};
  OutputBuffer out(storage);
  ASSERT_TRUE(out.append("abcdef"));
  out.consume(4);
  EXPECT_TRUE(out.append("ghijkl"));
  EXPECT_EQ(as_text(out.pending()), "efghijkl");
  out.consume(8);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace pigeon::protocol
