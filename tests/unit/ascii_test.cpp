// The ASCII helpers every engine and the configuration parser share.
#include "protocol/ascii.hpp"

#include <gtest/gtest.h>

namespace pigeon::ascii {
namespace {

TEST(Ascii, ComparesWithoutCaseOnlyAsciiLetters) {
  EXPECT_TRUE(iequals("StartTLS", "STARTTLS"));
  EXPECT_FALSE(iequals("STARTTLS", "STARTTL"));
  EXPECT_FALSE(iequals("@", "`"));  // 0x40 and 0x60 differ by the case bit but are not letters
  EXPECT_TRUE(istarts_with("mail from:<a@b>", "MAIL FROM:"));
  EXPECT_FALSE(istarts_with("MAIL", "MAIL FROM:"));
}

TEST(Ascii, TrimsAndSplitsWords) {
  EXPECT_EQ(trim(" \t value \r\n"), "value");
  std::string_view rest = "  LIST   7 ";
  EXPECT_EQ(next_word(rest), "LIST");
  EXPECT_EQ(next_word(rest), "7");
  EXPECT_EQ(next_word(rest), "");
  EXPECT_TRUE(rest.empty());
}

TEST(Ascii, ParsesUnsigned32BitNumbersOnly) {
  EXPECT_EQ(parse_u32("0"), 0u);
  EXPECT_EQ(parse_u32("4294967295"), 4294967295u);
  EXPECT_EQ(parse_u32("4294967296"), std::nullopt);
  EXPECT_EQ(parse_u32("00000000001"), std::nullopt);  // more than ten digits
  EXPECT_EQ(parse_u32(""), std::nullopt);
  EXPECT_EQ(parse_u32("-1"), std::nullopt);
  EXPECT_EQ(parse_u32("12a"), std::nullopt);
}

}  // namespace
}  // namespace pigeon::ascii
