// hal::format_text against the C library's snprintf for every conversion pigeon uses.
#include "hal/text_format.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace {

template <typename... Args>
void expect_like_snprintf(const char* format, Args... args) {
  char expected[128];
  char actual[128];
  const int expected_length = std::snprintf(expected, sizeof expected, format, args...);
  const int actual_length = pigeon::hal::format_text(actual, sizeof actual, format, args...);
  EXPECT_EQ(std::string(actual), std::string(expected)) << format;
  EXPECT_EQ(actual_length, expected_length) << format;
}

TEST(TextFormat, MatchesSnprintf) {
  expect_like_snprintf("plain text");
  expect_like_snprintf("%d %i %d", 0, -42, 2147483647);
  expect_like_snprintf("%u %x %X %02u %08x", 7u, 0xbeefu, 0xbeefu, 3u, 0x1fu);
  expect_like_snprintf("%llu.%03llu", 12345ull, 7ull);
  expect_like_snprintf("%ld %lu %zu %hhu", -5L, 5UL, static_cast<std::size_t>(99), 300);
  expect_like_snprintf("[%5s] [%-5s] [%.2s] [%.*s]", "ab", "ab", "abcdef", 3, "xyzzy");
  expect_like_snprintf("%c%c 100%%", 'o', 'k');
  expect_like_snprintf("%.4s%02u%.2s", "2026-11", 11u, "22");
  expect_like_snprintf("[%5d] [%-5d] [%05d]", -42, 42, -42);
  expect_like_snprintf("%s", static_cast<const char*>("a longer string that is still short"));
}

TEST(TextFormat, TruncatesAndTerminatesButCountsEverything) {
  char small[6];
  EXPECT_EQ(pigeon::hal::format_text(small, sizeof small, "%s", "overflowing"), 11);
  EXPECT_STREQ(small, "overf");
  EXPECT_EQ(pigeon::hal::format_text(nullptr, 0, "%d", 12345), 5);
}

// A login name with a line feed must not start a forged log line.
TEST(EscapeControlBytes, WritesControlBytesAsHexEscapes) {
  const std::string text = "bob\nfake: warning\r\x1b[31m\x7f\x01 ok\\";
  char out[128];
  const std::size_t length = pigeon::hal::escape_control_bytes(text.data(), text.size(), out, sizeof out);
  EXPECT_STREQ(out, "bob\\x0afake: warning\\x0d\\x1b[31m\\x7f\\x01 ok\\");
  EXPECT_EQ(length, std::string(out).size());
  const std::string nul("a\0b", 3);
  pigeon::hal::escape_control_bytes(nul.data(), nul.size(), out, sizeof out);
  EXPECT_STREQ(out, "a\\x00b");
}

TEST(EscapeControlBytes, NeverCutsAnEscapeInHalf) {
  char out[6];
  EXPECT_EQ(pigeon::hal::escape_control_bytes("ab\ncd", 5, out, sizeof out), 2u);
  EXPECT_STREQ(out, "ab");
  EXPECT_EQ(pigeon::hal::escape_control_bytes("abcdefgh", 8, out, sizeof out), 5u);
  EXPECT_STREQ(out, "abcde");
}

}  // namespace
