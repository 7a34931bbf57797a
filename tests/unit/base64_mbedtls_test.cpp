#include "firmware/base64_mbedtls.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string_view>

namespace pigeon {
namespace {

TEST(MbedtlsBase64, RoundTripsSaslPlainCredentials) {
  const MbedtlsBase64 codec;
  constexpr std::string_view plain("\0alice\0secret", 13);
  std::array<char, 64> text{};
  const auto encoded = codec.encode(
      std::span(reinterpret_cast<const std::uint8_t*>(plain.data()), plain.size()), text);
  ASSERT_TRUE(encoded);
  EXPECT_EQ(std::string_view(text.data(), *encoded), "AGFsaWNlAHNlY3JldA==");
  std::array<std::uint8_t, 64> bytes{};
  const auto decoded = codec.decode(std::string_view(text.data(), *encoded), bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(bytes.data()), *decoded), plain);
}

TEST(MbedtlsBase64, RejectsInvalidText) {
  const MbedtlsBase64 codec;
  std::array<std::uint8_t, 16> bytes{};
  EXPECT_FALSE(codec.decode("not*base64", bytes));
}

}  // namespace
}  // namespace pigeon
