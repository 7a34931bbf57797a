#include "protocol/mime_parser.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/feed_splits.hpp"

namespace pigeon::protocol::mime {
namespace {

using testing::bytes_of;
using testing::same_result_for_every_split;
using testing::SplitPlan;

// Bytes as C++ would write them, so that expectations read as the message does.
std::string escaped(std::string_view bytes) {
  std::string text;
  for (const char c : bytes) {
    if (c == '\r') {
      text += "\\r";
    } else if (c == '\n') {
      text += "\\n";
    } else if (c == '\t') {
      text += "\\t";
    } else if (c < 0x20 || c == 0x7F || static_cast<unsigned char>(c) >= 0x80) {
      static constexpr char hex[] = "0123456789abcdef";
      text += "\\x";
      text += hex[static_cast<unsigned char>(c) >> 4];
      text += hex[c & 0xF];
    } else {
      text += c;
    }
  }
  return text;
}

// The structure as text: one line per part, "index: parent kind [header] [body] lines".
std::string describe(const Structure& structure, std::string_view message) {
  std::string text;
  for (std::size_t i = 0; i < structure.count; ++i) {
    const Part& part = structure.parts[i];
    static constexpr const char* kinds[] = {"basic", "text", "multipart", "message", "opaque"};
    EXPECT_LE(part.header_offset, part.body_offset);
    EXPECT_LE(part.body_offset, part.body_end);
    EXPECT_LE(part.body_end, message.size());
    text += std::to_string(i) + ": " + (part.parent == no_parent ? std::string("-") : std::to_string(part.parent)) +
            " " + kinds[static_cast<int>(part.kind)] + " [" +
            escaped(message.substr(part.header_offset, part.body_offset - part.header_offset)) + "] [" +
            (part.kind == PartKind::multipart ? std::to_string(part.body_bytes()) + " bytes"
                                              : escaped(message.substr(part.body_offset, part.body_bytes()))) +
            "] " + std::to_string(part.body_lines) +
            "\n";
  }
  if (structure.truncated) text += "truncated\n";
  return text;
}

Structure parse(std::string_view message, const SplitPlan& plan) {
  Structure structure;
  Parser parser(structure);
  std::size_t offset = 0;
  for (const std::size_t piece : plan.pieces_for(message.size())) {
    parser.feed(bytes_of(message.substr(offset, piece)));
    offset += piece;
  }
  parser.finish();
  return structure;
}

// Parses `message` whole, byte by byte and in random splits; all must agree.
std::string structure_of(std::string_view message) {
  return same_result_for_every_split([&](const SplitPlan& plan) { return describe(parse(message, plan), message); });
}

std::string_view slice(std::string_view message, std::uint32_t begin, std::uint32_t end) {
  return message.substr(begin, end - begin);
}

const std::string nested =
    "From: a@example.org\r\n"
    "Subject: nested\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed;\r\n"
    "\tboundary=\"outer b\"\r\n"
    "\r\n"
    "This is the preamble.\r\n"
    "--outer b\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "plain line 1\r\n"
    "plain line 2\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>html</p>\r\n"
    "\r\n"
    "--inner--\r\n"
    "inner epilogue\r\n"
    "--outer b  \r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: b@example.org\r\n"
    "Subject: inside\r\n"
    "\r\n"
    "embedded body\r\n"
    "--outer b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAw==\r\n"
    "--outer b--\r\n"
    "epilogue\r\n";

TEST(MimeParser, FindsNestedPartsAndTheirBytes) {
  const std::string text = structure_of(nested);
  EXPECT_EQ(text,
            "0: - multipart [From: a@example.org\\r\\nSubject: nested\\r\\nMIME-Version: 1.0\\r\\n"
            "Content-Type: multipart/mixed;\\r\\n\\tboundary=\"outer b\"\\r\\n\\r\\n] [468 bytes] 30\n"
            "1: 0 multipart [Content-Type: multipart/alternative; boundary=inner\\r\\n\\r\\n] [156 bytes] 11\n"
            "2: 1 text [Content-Type: text/plain; charset=utf-8\\r\\n\\r\\n] [plain line 1\\r\\nplain line 2] 1\n"
            "3: 1 text [Content-Type: text/html\\r\\n\\r\\n] [<p>html</p>\\r\\n] 1\n"
            "4: 0 message [Content-Type: message/rfc822\\r\\n\\r\\n] "
            "[From: b@example.org\\r\\nSubject: inside\\r\\n\\r\\nembedded body] 3\n"
            "5: 4 text [From: b@example.org\\r\\nSubject: inside\\r\\n\\r\\n] [embedded body] 0\n"
            "6: 0 basic [Content-Type: application/octet-stream\\r\\nContent-Transfer-Encoding: base64\\r\\n\\r\\n] "
            "[AAECAw==] 0\n")
      << text;
  Structure structure = parse(nested, SplitPlan::whole());
  const auto body = [&](std::size_t i) {
    return slice(nested, structure.parts[i].body_offset, structure.parts[i].body_end);
  };
  EXPECT_EQ(body(2), "plain line 1\r\nplain line 2");
  EXPECT_EQ(body(3), "<p>html</p>\r\n");
  EXPECT_EQ(body(4), "From: b@example.org\r\nSubject: inside\r\n\r\nembedded body");
  EXPECT_EQ(body(5), "embedded body");
  EXPECT_EQ(body(6), "AAECAw==");
  EXPECT_EQ(slice(nested, structure.parts[6].header_offset, structure.parts[6].body_offset),
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
}

TEST(MimeParser, NamesPartsAsImapDoes) {
  Structure structure = parse(nested, SplitPlan::whole());
  EXPECT_EQ(structure.find("1"), 1);
  EXPECT_EQ(structure.find("1.1"), 2);
  EXPECT_EQ(structure.find("1.2"), 3);
  EXPECT_EQ(structure.find("2"), 4);
  EXPECT_EQ(structure.find("2.1"), 5);  // the embedded message's body: it is not multipart
  EXPECT_EQ(structure.find("3"), 6);
  EXPECT_EQ(structure.find("4"), std::nullopt);
  EXPECT_EQ(structure.find("1.3"), std::nullopt);
  EXPECT_EQ(structure.find("2.2"), std::nullopt);
  EXPECT_EQ(structure.find("3.1"), std::nullopt);
  EXPECT_EQ(structure.find("0"), std::nullopt);
  EXPECT_EQ(structure.find("1..2"), std::nullopt);
  EXPECT_EQ(structure.next_sibling(1), 4);
  EXPECT_EQ(structure.next_sibling(3), std::nullopt);
  EXPECT_EQ(structure.next_sibling(6), std::nullopt);
  EXPECT_EQ(structure.first_child(4), 5);
  EXPECT_EQ(structure.first_child(5), std::nullopt);
}

TEST(MimeParser, AMessageWithoutMimeHeadersIsOneTextPart) {
  const std::string message = "Subject: plain\r\n\r\nline one\r\nline two\r\n";
  EXPECT_EQ(structure_of(message), "0: - text [Subject: plain\\r\\n\\r\\n] [line one\\r\\nline two\\r\\n] 2\n");
  Structure structure = parse(message, SplitPlan::whole());
  EXPECT_EQ(structure.find("1"), 0);
  EXPECT_FALSE(structure.parts[0].has_content_type);
  // Lines are line breaks, as Dovecot counts them: a last line without one is not counted.
  EXPECT_EQ(structure_of("Subject: x\n\nno break"), "0: - text [Subject: x\\n\\n] [no break] 0\n");
  // A header without a blank line has an empty body.
  EXPECT_EQ(structure_of("Subject: x\r\n"), "0: - text [Subject: x\\r\\n] [] 0\n");
  EXPECT_EQ(structure_of(""), "0: - text [] [] 0\n");
}

TEST(MimeParser, AMultipartWithoutAUsableBoundaryIsOnePart) {
  EXPECT_EQ(structure_of("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n--x--\r\n"),
            "0: - opaque [Content-Type: multipart/mixed\\r\\n\\r\\n] [--x\\r\\n\\r\\nbody\\r\\n--x--\\r\\n] 4\n");
  EXPECT_EQ(structure_of("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\nbody\r\n"),
            "0: - opaque [Content-Type: multipart/mixed; boundary=\"\"\\r\\n\\r\\n] [body\\r\\n] 1\n");
  const std::string long_boundary(71, 'b');
  const std::string text = structure_of("Content-Type: multipart/mixed; boundary=" + long_boundary + "\r\n\r\n--" +
                                        long_boundary + "\r\n\r\nx\r\n");
  EXPECT_TRUE(text.starts_with("0: - opaque [")) << text;
  EXPECT_TRUE(text.ends_with("\\r\\n\\r\\nx\\r\\n] 3\ntruncated\n")) << text;
  // A Content-Type that is not type/subtype means text/plain (RFC 2045 §5.2).
  EXPECT_EQ(structure_of("Content-Type: garbage\r\n\r\nbody"), "0: - text [Content-Type: garbage\\r\\n\\r\\n] [body] 0\n");
}

TEST(MimeParser, AMultipartThatNeverClosesEndsWithTheMessage) {
  const std::string message =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\nContent-Type: text/html\r\n";
  EXPECT_EQ(structure_of(message),
            "0: - multipart [Content-Type: multipart/mixed; boundary=b\\r\\n\\r\\n] [42 bytes] 5\n"
            "1: 0 text [\\r\\n] [one] 0\n"
            "2: 0 text [Content-Type: text/html\\r\\n] [] 0\n");
}

TEST(MimeParser, BoundariesNeedTheirWholeLine) {
  const std::string message =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n\r\n"
      "--bx is not a boundary\r\n"
      "x--b neither\r\n"
      "--b-- x\r\n"
      "--b\t \r\n"
      "\r\n"
      "two\r\n"
      "--b--\r\n";
  EXPECT_EQ(structure_of(message),
            "0: - multipart [Content-Type: multipart/mixed; boundary=b\\r\\n\\r\\n] [75 bytes] 9\n"
            "1: 0 text [\\r\\n] [--bx is not a boundary\\r\\nx--b neither\\r\\n--b-- x] 2\n"
            "2: 0 text [\\r\\n] [two] 0\n");
}

TEST(MimeParser, APartWithAnEmptyBodyKeepsItsBlankLine) {
  // The header's blank line is also the line break the boundary owns.
  const std::string message =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\n--b--\r\n";
  EXPECT_EQ(structure_of(message),
            "0: - multipart [Content-Type: multipart/mixed; boundary=b\\r\\n\\r\\n] [58 bytes] 6\n"
            "1: 0 message [Content-Type: message/rfc822\\r\\n\\r\\n] [Subject: s\\r\\n\\r\\n] 2\n"
            "2: 1 text [Subject: s\\r\\n\\r\\n] [] 0\n");
}

TEST(MimeParser, AnOuterBoundaryEndsTheInnerParts) {
  const std::string message =
      "Content-Type: multipart/mixed; boundary=out\r\n\r\n"
      "--out\r\nContent-Type: multipart/related; boundary=in\r\n\r\n"
      "--in\r\n\r\ninner, never closed\r\n"
      "--out\r\n\r\nlast\r\n"
      "--out--";
  EXPECT_EQ(structure_of(message),
            "0: - multipart [Content-Type: multipart/mixed; boundary=out\\r\\n\\r\\n] [106 bytes] 9\n"
            "1: 0 multipart [Content-Type: multipart/related; boundary=in\\r\\n\\r\\n] [27 bytes] 2\n"
            "2: 1 text [\\r\\n] [inner, never closed] 0\n"
            "3: 0 text [\\r\\n] [last] 0\n");
}

TEST(MimeParser, DigestPartsDefaultToMessages) {
  const std::string message =
      "Content-Type: multipart/digest; boundary=d\r\n\r\n"
      "--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n"
      "--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n"
      "--d--\r\n";
  EXPECT_EQ(structure_of(message),
            "0: - multipart [Content-Type: multipart/digest; boundary=d\\r\\n\\r\\n] [85 bytes] 10\n"
            "1: 0 message [\\r\\n] [Subject: one\\r\\n\\r\\nfirst] 2\n"
            "2: 1 text [Subject: one\\r\\n\\r\\n] [first] 0\n"
            "3: 0 text [Content-Type: text/plain\\r\\n\\r\\n] [not a message] 0\n");
}

TEST(MimeParser, EightBitAndBinaryBytesAreJustBytes) {
  std::string message = "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
                        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n";
  message += std::string("\0\xff\r\r\n--zz\n\x80--z-\r\n", 17);
  message += "\r\n--z\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n\xe9t\xe9\r\n--z--\r\n";
  const std::string text = structure_of(message);
  EXPECT_EQ(text,
            "0: - multipart [Content-Type: multipart/mixed; boundary=z\\r\\n\\r\\n] [166 bytes] 13\n"
            "1: 0 basic [Content-Type: application/octet-stream\\r\\nContent-Transfer-Encoding: binary\\r\\n\\r\\n] "
            "[\\x00\\xff\\r\\r\\n--zz\\n\\x80--z-\\r\\n] 3\n"
            "2: 0 text [Content-Type: text/plain; charset=iso-8859-1\\r\\n\\r\\n] [\\xe9t\\xe9] 0\n")
      << text;
}

TEST(MimeParser, NestingBeyondTheDepthLimitIsOpaque) {
  std::string message;
  for (std::size_t level = 0; level <= Parser::max_depth + 1; ++level) {
    message += "Content-Type: multipart/mixed; boundary=l" + std::to_string(level) + "\r\n\r\n--l" +
               std::to_string(level) + "\r\n";
  }
  message += "\r\ndeepest\r\n";
  const Structure structure = parse(message, SplitPlan::whole());
  EXPECT_EQ(structure.count, Parser::max_depth + 1);
  EXPECT_TRUE(structure.truncated);
  EXPECT_EQ(structure.parts[Parser::max_depth].kind, PartKind::opaque);
  for (std::size_t i = 0; i < Parser::max_depth; ++i) EXPECT_EQ(structure.parts[i].kind, PartKind::multipart) << i;
  // Every part ends with the message.
  for (std::size_t i = 0; i < structure.count; ++i) EXPECT_EQ(structure.parts[i].body_end, message.size()) << i;
  structure_of(message);
}

TEST(MimeParser, PartsBeyondTheLimitStayInTheirParent) {
  std::string message = "Content-Type: multipart/mixed; boundary=p\r\n\r\n";
  for (std::size_t i = 0; i < Structure::max_parts + 5; ++i) message += "--p\r\n\r\npart " + std::to_string(i) + "\r\n";
  message += "--p--\r\n";
  const Structure structure = parse(message, SplitPlan::whole());
  EXPECT_EQ(structure.count, Structure::max_parts);
  EXPECT_TRUE(structure.truncated);
  EXPECT_EQ(structure.parts[0].body_end, message.size());
  const Part& last = structure.parts[Structure::max_parts - 1];
  EXPECT_EQ(slice(message, last.body_offset, last.body_end), "part " + std::to_string(Structure::max_parts - 2));
  structure_of(message);
}

TEST(MimeParser, ABoundaryLongerThanTheKeptLinePrefixStillMatches) {
  const std::string boundary(70, '=');
  const std::string message = "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary +
                              std::string(40, ' ') + "\r\n\r\nx\r\n--" + boundary + "--" + std::string(10, '\t') +
                              "\r\n";
  const std::string text = structure_of(message);
  EXPECT_EQ(text.find("opaque"), std::string::npos) << text;
  const Structure structure = parse(message, SplitPlan::whole());
  ASSERT_EQ(structure.count, 2);
  EXPECT_EQ(slice(message, structure.parts[1].body_offset, structure.parts[1].body_end), "x");
  // Something else after the padding makes it no boundary.
  const std::string not_closed = "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary +
                                 "\r\n\r\nx\r\n--" + boundary + std::string(40, ' ') + "x\r\n";
  const Structure open = parse(not_closed, SplitPlan::whole());
  ASSERT_EQ(open.count, 2);
  EXPECT_EQ(open.parts[1].body_end, not_closed.size());
}

TEST(MimeValue, ReadsTypesAndParameters) {
  std::array<char, 71> buffer{};
  const ContentType type =
      parse_content_type(" Multipart/Mixed (comment) ; charset=us-ascii; boundary=\"a \\\"b\\\" c\";", buffer);
  EXPECT_EQ(type.type, "Multipart");
  EXPECT_EQ(type.subtype, "Mixed");
  EXPECT_EQ(type.boundary, "a \"b\" c");
  EXPECT_TRUE(parse_content_type("text", buffer).type.empty());
  EXPECT_TRUE(parse_content_type("text/", buffer).type.empty());
  ValueReader reader("attachment; filename*0*=utf-8''a%20b; filename*1=\"c.txt\"");
  EXPECT_EQ(reader.token(), "attachment");
  auto first = reader.next_parameter();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->name, "filename*0*");
  EXPECT_EQ(first->value, "utf-8''a%20b");
  auto second = reader.next_parameter();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->name, "filename*1");
  EXPECT_EQ(second->value, "c.txt");
  EXPECT_TRUE(second->quoted);
  EXPECT_FALSE(reader.next_parameter());
  ValueReader broken("x; name=\"unterminated");
  broken.token();
  EXPECT_FALSE(broken.next_parameter());
}

}  // namespace
}  // namespace pigeon::protocol::mime
