#include "protocol/base64.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

namespace pigeon::protocol {
namespace {

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::optional<std::string> encoded(std::string_view plain) {
  std::array<char, 64> out{};
  const auto length = base64::encode(bytes_of(plain), out);
  return length ? std::optional<std::string>(std::string(out.data(), *length)) : std::nullopt;
}

std::optional<std::string> decoded(std::string_view text, std::size_t room = 64) {
  std::array<std::uint8_t, 64> out{};
  const auto length = base64::decode(text, std::span(out).first(room));
  return length ? std::optional<std::string>(std::string(reinterpret_cast<const char*>(out.data()), *length))
                : std::nullopt;
}

// RFC 4648 §10.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> rfc4648_vectors{{
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
}};

TEST(Base64, EncodesTheRfc4648TestVectors) {
  for (const auto& [plain, text] : rfc4648_vectors) EXPECT_EQ(encoded(plain), text) << plain;
}

TEST(Base64, DecodesTheRfc4648TestVectors) {
  for (const auto& [plain, text] : rfc4648_vectors) EXPECT_EQ(decoded(text), plain) << text;
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t start = 0; start + 40 <= all.size(); start += 37) {
    const std::string_view piece = std::string_view(all).substr(start, 40);
    const auto text = encoded(piece);
    ASSERT_TRUE(text);
    EXPECT_EQ(decoded(*text), piece);
  }
}

TEST(Base64, RoundTripsSaslPlainCredentials) {
  constexpr std::string_view plain("\0alice\0secret", 13);
  EXPECT_EQ(encoded(plain), "AGFsaWNlAHNlY3JldA==");
  EXPECT_EQ(decoded("AGFsaWNlAHNlY3JldA=="), plain);
}

TEST(Base64, RefusesTextThatIsNotStrictBase64) {
  for (std::string_view bad : {"not*base64", "Zg", "Zg=", "Zm9vY", "Z===", "====", "Zg==Zg==", "Z=g=", "Zm 9v",
                               "Zm9v\r\n", "Zm9-", "Zm9_", "Zm9v="}) {
    EXPECT_FALSE(decoded(bad)) << bad;
  }
}

// RFC 4648 §3.5: "QR==" and "Zm9=" carry bits past their last byte; accepted,
// they would be second spellings of "A" and "fo" (found by tests/fuzz/sasl_fuzz.cpp).
TEST(Base64, RefusesBitsBeyondTheLastByte) {
  for (std::string_view bad : {"QR==", "QA5=", "Zm9=", "Zh==", "Zm9vYh=="}) EXPECT_FALSE(decoded(bad)) << bad;
  EXPECT_EQ(decoded("QQ=="), "A");
  EXPECT_EQ(decoded("QUE="), "AA");
}

TEST(Base64, RefusesOutputThatDoesNotFit) {
  EXPECT_FALSE(decoded("Zm9vYmFy", 5));
  EXPECT_EQ(decoded("Zm9vYmFy", 6), "foobar");
  EXPECT_EQ(decoded("Zm9vYg==", 4), "foob");
  std::array<char, 8> out{};
  EXPECT_FALSE(base64::encode(bytes_of("foobar!"), out));
  EXPECT_EQ(base64::encode(bytes_of("foobar"), out), 8u);
}

}  // namespace
}  // namespace pigeon::protocol
