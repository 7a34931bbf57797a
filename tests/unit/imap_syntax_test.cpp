#include "protocol/imap_syntax.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "protocol/imap_envelope.hpp"
#include "protocol/imap_header_filter.hpp"
#include "protocol/imap_text_match.hpp"

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

TEST(ImapSyntax, MessageDates) {
  EXPECT_EQ(parse_message_date("Thu, 1 Jan 1970 00:00:00 +0000"), 0);
  EXPECT_EQ(parse_message_date("  29 feb 2000 23:59 -1200"), 11016);
  EXPECT_EQ(parse_message_date("Tue,\t29 Feb 00 10:00:00 GMT"), 11016);   // obsolete two-digit year
  EXPECT_EQ(parse_message_date("1 Jan 70 00:00 +0000"), 0);
  EXPECT_EQ(parse_message_date("1 Jan 070 00:00 +0000"), 0);              // three digits count from 1900
  for (const char* bad : {"", "Thu,", "soon", "32 Jan 2000", "0 Jan 2000", "1 Foo 2000", "1 Jan", "1 Jan 7",
                          "1-Jan-2000", "x 1 Jan 2000"}) {
    EXPECT_FALSE(parse_message_date(bad)) << bad;
  }
}

TEST(ImapSyntax, SequenceSetWriterJoinsRuns) {
  std::array<char, 128> text{};
  TextBuilder out(text);
  SequenceSetWriter writer;
  for (const std::uint32_t number : {1u, 2u, 3u, 5u, 7u, 8u, 4294967294u, 4294967295u}) writer.add(number, out);
  writer.finish(out);
  EXPECT_EQ(out.view(), "1:3,5,7:8,4294967294:4294967295");
  TextBuilder single(text);
  SequenceSetWriter one;
  one.add(9, single);
  EXPECT_EQ(single.view(), "");  // a run goes out only when it ends
  one.finish(single);
  one.finish(single);
  EXPECT_EQ(single.view(), "9");
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

std::string address_list(std::string_view value, std::size_t room = 600) {
  std::array<char, 600> buffer{};
  TextBuilder out(std::span<char>(buffer.data(), room));
  write_address_list(out, value);
  return std::string(out.view());
}

TEST(ImapEnvelope, AddressLists) {
  EXPECT_EQ(address_list("a@example.org"), "((NIL NIL \"a\" \"example.org\"))");
  EXPECT_EQ(address_list("\"A \\\"B\\\" C\" <a@x>, b@y (Bee)"),
            "((\"A \\\"B\\\" C\" NIL \"a\" \"x\")(\"Bee\" NIL \"b\" \"y\"))");
  EXPECT_EQ(address_list("<@route,@r2:a@x>"), "((NIL NIL \"a\" \"x\"))");
  EXPECT_EQ(address_list("undisclosed-recipients:;"), "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))");
  EXPECT_EQ(address_list(""), "NIL");
  EXPECT_EQ(address_list(" , "), "NIL");
  // Addresses that do not fit are left out whole; none fitting is NIL.
  EXPECT_EQ(address_list("a@x, bbbbbbbbbb@y", 30), "((NIL NIL \"a\" \"x\"))");
  EXPECT_EQ(address_list("a@x", 10), "NIL");
}

TEST(ImapEnvelope, FieldValueUnfoldsAndCuts) {
  FieldValue value;
  const std::string field = "Subject:  a\r\n\tb\r\nNext: x\r\n\r\n";
  value.put({reinterpret_cast<const std::uint8_t*>(field.data()), field.size()});
  EXPECT_TRUE(value.present());
  EXPECT_EQ(value.value(), "a\tb");
  FieldValue long_value;
  const std::string long_field = "To: " + std::string(500, 'x') + "\r\n";
  long_value.put({reinterpret_cast<const std::uint8_t*>(long_field.data()), long_field.size()});
  EXPECT_EQ(long_value.value().size(), FieldValue::max_value_bytes);
  EXPECT_FALSE(FieldValue().present());
}

TEST(ImapEnvelope, Strings) {
  std::array<char, 64> buffer{};
  TextBuilder quoted(buffer);
  write_nstring(quoted, "say \"hi\" \\");
  EXPECT_EQ(quoted.view(), "\"say \\\"hi\\\" \\\\\"");
  TextBuilder literal(buffer);
  write_nstring(literal, "caf\xC3\xA9");
  EXPECT_EQ(literal.view(), "{5}\r\ncaf\xC3\xA9");
  TextBuilder nil(buffer);
  write_nstring(nil, "", false);
  EXPECT_EQ(nil.view(), "NIL");
}

bool matches(std::string_view pattern, std::string_view text, bool field_values, std::size_t piece = 1) {
  TextMatcher matcher(pattern, field_values);
  for (std::size_t i = 0; i < text.size(); i += piece) {
    const std::string_view part = text.substr(i, piece);
    matcher.put({reinterpret_cast<const std::uint8_t*>(part.data()), part.size()});
  }
  return matcher.found();
}

TEST(ImapTextMatch, FindsTextAcrossPiecesIgnoringCase) {
  for (const std::size_t piece : {1u, 3u, 100u}) {
    EXPECT_TRUE(matches("abcab", "xxabcabcabx", false, piece));
    EXPECT_TRUE(matches("ABAB", "ababa", false, piece));
    EXPECT_FALSE(matches("abac", "ababab", false, piece));
    EXPECT_TRUE(matches("", "anything", false, piece));
  }
  EXPECT_FALSE(matches(std::string(300, 'a'), std::string(400, 'a'), false));
}

TEST(ImapTextMatch, FieldValuesOnlyAndUnfolded) {
  const std::string fields = "Subject: one\r\n two\r\nTo: x\r\n\r\n";
  EXPECT_TRUE(matches("one two", fields, true));
  EXPECT_FALSE(matches("subject", fields, true));
  EXPECT_FALSE(matches("one\r", fields, true));
  EXPECT_FALSE(matches("twoTo", fields, true));
  EXPECT_TRUE(matches("", fields, true));
  EXPECT_FALSE(matches("", "", true));
}

}  // namespace
}  // namespace pigeon::protocol::imap
