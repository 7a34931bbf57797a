#include "protocol/mime_decoder.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/feed_splits.hpp"

namespace pigeon::protocol::mime {
namespace {

using testing::bytes_of;
using testing::same_result_for_every_split;
using testing::SplitPlan;

class StringSink final : public imap::ByteSink {
 public:
  void put(std::span<const std::uint8_t> bytes) override { text.append(testing::text_of(bytes)); }
  std::string text;
};

// Decodes `encoded` whole, byte by byte and in random splits; all must agree.
std::string decoded(Encoding encoding, std::string_view encoded) {
  return same_result_for_every_split([&](const SplitPlan& plan) {
    TransferDecoder decoder(encoding);
    StringSink sink;
    std::size_t offset = 0;
    for (const std::size_t piece : plan.pieces_for(encoded.size())) {
      const std::size_t before = sink.text.size();
      decoder.feed(bytes_of(encoded.substr(offset, piece)), sink);
      EXPECT_LE(sink.text.size() - before, piece + TransferDecoder::held_bytes);
      offset += piece;
    }
    decoder.finish(sink);
    return sink.text;
  });
}

TEST(MimeDecoder, NamesTheEncodingsItKnows) {
  EXPECT_EQ(encoding_named(""), Encoding::identity);
  EXPECT_EQ(encoding_named("7BIT"), Encoding::identity);
  EXPECT_EQ(encoding_named("8bit"), Encoding::identity);
  EXPECT_EQ(encoding_named("Binary"), Encoding::identity);
  EXPECT_EQ(encoding_named("BASE64"), Encoding::base64);
  EXPECT_EQ(encoding_named("quoted-printable"), Encoding::quoted_printable);
  EXPECT_EQ(encoding_named("x-uuencode"), std::nullopt);
  EXPECT_EQ(encoding_named("base-64"), std::nullopt);
}

TEST(MimeDecoder, Base64IgnoresLineBreaksAndEndsAtPadding) {
  EXPECT_EQ(decoded(Encoding::base64, "SGVs\r\nbG8s\r\nIHdv cmxk\r\n"), "Hello, world");
  EXPECT_EQ(decoded(Encoding::base64, "YQ==\r\n"), "a");
  EXPECT_EQ(decoded(Encoding::base64, "YWI=\r\n"), "ab");
  EXPECT_EQ(decoded(Encoding::base64, "YWI=YWJj"), "ab");  // nothing after the padding
  EXPECT_EQ(decoded(Encoding::base64, "YWJj"), "abc");
  EXPECT_EQ(decoded(Encoding::base64, "YWJjZA"), "abcd");  // cut short of its padding
  EXPECT_EQ(decoded(Encoding::base64, "AAEC/w==").size(), 4u);
  EXPECT_EQ(decoded(Encoding::base64, "AAEC/w=="), std::string("\0\1\2\xff", 4));
  EXPECT_EQ(decoded(Encoding::base64, "!!!"), "");
}

TEST(MimeDecoder, QuotedPrintableEscapesAndSoftLineBreaks) {
  EXPECT_EQ(decoded(Encoding::quoted_printable, "caf=C3=A9 au lait\r\n"), "caf\xC3\xA9 au lait\r\n");
  EXPECT_EQ(decoded(Encoding::quoted_printable, "long =\r\nline=\nend"), "long lineend");
  EXPECT_EQ(decoded(Encoding::quoted_printable, "lower =c3=a9"), "lower \xC3\xA9");
  // What is not an escape is kept as written.
  EXPECT_EQ(decoded(Encoding::quoted_printable, "a=4g b=\rc =x"), "a=4g b=\rc =x");
  EXPECT_EQ(decoded(Encoding::quoted_printable, "ends in ="), "ends in =");
  EXPECT_EQ(decoded(Encoding::quoted_printable, "ends in =4"), "ends in =4");
}

TEST(MimeDecoder, QuotedPrintableDropsWhiteSpaceBeforeALineBreak) {
  EXPECT_EQ(decoded(Encoding::quoted_printable, "padded \t \r\nnext  \nlast  "), "padded\r\nnext\nlast  ");
  EXPECT_EQ(decoded(Encoding::quoted_printable, "inner  space\r\n"), "inner  space\r\n");
  EXPECT_EQ(decoded(Encoding::quoted_printable, "cr \r alone\r\n"), "cr \r alone\r\n");
  // A run longer than what is held goes out a full hold at a time; only the
  // rest (here 100 - 64 bytes) is dropped at the line break.
  const std::string run(100, ' ');
  EXPECT_EQ(decoded(Encoding::quoted_printable, "x" + run + "\r\n"),
            "x" + std::string(TransferDecoder::held_bytes, ' ') + "\r\n");
}

TEST(MimeDecoder, IdentityPassesEverything) {
  const std::string bytes("\0\r\n=\xff", 5);
  EXPECT_EQ(decoded(Encoding::identity, bytes), bytes);
}

}  // namespace
}  // namespace pigeon::protocol::mime
