#include "protocol/imap_syntax.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "protocol/imap_header_filter.hpp"

namespace pigeon::protocol::imap {
namespace {

TEST(ImapSyntax, AtomsStringsAndLiterals) {
  Cursor cursor("abc \"q\\\"x\" {3}\r\nl i NIL] (a (b) \"c)\") x\xC3");
  EXPECT_EQ(cursor.atom(), "abc");
  EXPECT_TRUE(cursor.space());
  EXPECT_EQ(cursor.astring(), "q\\\"x");
  EXPECT_TRUE(cursor.space());
  EXPECT_EQ(cursor.astring(), "l i");
  EXPECT_TRUE(cursor.space());
  EXPECT_EQ(cursor.astring(), "NIL]");
  EXPECT_TRUE(cursor.space());
  EXPECT_EQ(cursor.list(), "a (b) \"c)\"");
  EXPECT_TRUE(cursor.space());
  EXPECT_EQ(cursor.atom(), "");  // a byte that is not ASCII spoils the atom

  std::array<char, 16> buffer{};
  EXPECT_EQ(unquote("q\\\"x\\\\", buffer), "q\"x\\");
  EXPECT_FALSE(Cursor("{5}\r\nab").astring());
  EXPECT_FALSE(Cursor("\"open").astring());
  EXPECT_FALSE(Cursor("(open").list());
}

TEST(ImapSyntax, SequenceSets) {
  EXPECT_TRUE(valid_sequence_set("1"));
  EXPECT_TRUE(valid_sequence_set("1:*,7,9:3"));
  for (const char* bad : {"", "0", "1:", ",1", "1,,2", "a", "1:0", "4294967296"}) EXPECT_FALSE(valid_sequence_set(bad)) << bad;
  EXPECT_TRUE(sequence_set_contains("2:4", 3, 10));
  EXPECT_TRUE(sequence_set_contains("9:3", 3, 10));
  EXPECT_TRUE(sequence_set_contains("*", 10, 10));
  EXPECT_TRUE(sequence_set_contains("12:*", 11, 11));  // "12:*" is "11:12" when 11 is the largest
  EXPECT_FALSE(sequence_set_contains("1,5:6", 4, 10));
  EXPECT_EQ(sequence_set_max("1,5:*", 8), 8u);
  EXPECT_EQ(sequence_set_max("3,2", 8), 3u);
}

TEST(ImapSyntax, Dates) {
  EXPECT_EQ(parse_date("1-Jan-1970"), 0);
  EXPECT_EQ(parse_date("\"02-Jan-1970\""), 1);
  EXPECT_EQ(parse_date("29-feb-2000"), 11016);
  for (const char* bad : {"", "1-Jan-70", "32-Jan-2000", "1-Foo-2000", "1 Jan 2000", "0-Jan-2000"}) {
    EXPECT_FALSE(parse_date(bad)) << bad;
  }
  std::array<char, 26> out{};
  EXPECT_EQ(format_date_time(0, out), "01-Jan-1970 00:00:00 +0000");
  EXPECT_EQ(format_date_time(951782400 + 3661, out), "29-Feb-2000 01:01:01 +0000");
  EXPECT_EQ(format_date_time(UINT32_MAX, out), "07-Feb-2106 06:28:15 +0000");
}

TEST(ImapSyntax, ListPatterns) {
  EXPECT_TRUE(pattern_matches("*", "Sent"));
  EXPECT_TRUE(pattern_matches("%", "Sent"));
  EXPECT_TRUE(pattern_matches("S*t", "Sent"));
  EXPECT_TRUE(pattern_matches("*e*", "Sent"));
  EXPECT_FALSE(pattern_matches("S", "Sent"));
  EXPECT_FALSE(pattern_matches("sent", "Sent"));
  EXPECT_FALSE(pattern_matches("*x", "Sent"));
}

class Collect final : public ByteSink {
 public:
  void put(std::span<const std::uint8_t> bytes) override { text.append(reinterpret_cast<const char*>(bytes.data()), bytes.size()); }
  std::string text;
};

// The filter's output for `message` fed in pieces of `piece` bytes.
std::string filtered(HeaderSelection selection, std::string_view names, std::string_view message, std::size_t piece,
                     std::uint32_t* header_bytes = nullptr) {
  HeaderFilter filter(selection, names);
  Collect sink;
  std::size_t offset = 0;
  while (!filter.done() && offset < message.size()) {
    const std::size_t length = std::min(piece, message.size() - offset);
    offset += filter.feed({reinterpret_cast<const std::uint8_t*>(message.data()) + offset, length}, sink);
  }
  if (!filter.done()) filter.finish(sink);
  if (header_bytes != nullptr) *header_bytes = filter.header_bytes();
  return sink.text;
}

TEST(ImapHeaderFilter, SelectsFieldsWithTheirFoldedLines) {
  const std::string message = "From: a\r\nSubject: s\r\n folded\r\nX-" + std::string(100, 'n') + ": long\r\n"
                              "To: t\r\n\r\nbody\r\nFrom: not a header\r\n";
  for (const std::size_t piece : {1u, 3u, 1000u}) {
    SCOPED_TRACE(piece);
    std::uint32_t header_bytes = 0;
    EXPECT_EQ(filtered(HeaderSelection::all, {}, message, piece, &header_bytes), message.substr(0, message.find("body")));
    EXPECT_EQ(header_bytes, message.find("body"));
    EXPECT_EQ(filtered(HeaderSelection::fields, "subject \"TO\"", message, piece), "Subject: s\r\n folded\r\nTo: t\r\n\r\n");
    EXPECT_EQ(filtered(HeaderSelection::fields_not, "Subject To", message, piece),
              "From: a\r\nX-" + std::string(100, 'n') + ": long\r\n\r\n");
  }
}

TEST(ImapHeaderFilter, MessageWithoutBlankLine) {
  EXPECT_EQ(filtered(HeaderSelection::fields, "Subject", "Subject: s\r\nFrom: f", 2), "Subject: s\r\n");
  EXPECT_EQ(filtered(HeaderSelection::fields_not, "Subject", "Subject: s\r\nFrom", 2), "From");
  EXPECT_EQ(filtered(HeaderSelection::all, {}, "\r\nbody", 1), "\r\n");
}

}  // namespace
}  // namespace pigeon::protocol::imap
