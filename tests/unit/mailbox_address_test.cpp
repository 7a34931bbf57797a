#include "protocol/mailbox_address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pigeon::protocol {
namespace {

using namespace std::string_literals;  // "..."s keeps a NUL inside the text

struct Parsed {
  std::string path;
  std::string local_part;
  std::string domain;
  std::string rest;
};

std::optional<Parsed> parse(std::string_view text) {
  std::string_view rest;
  const auto address = parse_path(text, rest);
  if (!address) return std::nullopt;
  return Parsed{std::string(address->path), std::string(address->local_part), std::string(address->domain),
                std::string(rest)};
}

TEST(MailboxAddress, SplitsAPlainMailboxAndKeepsTheParameters) {
  const auto parsed = parse("<user.name+tag@mail.example.org> SIZE=100");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->path, "user.name+tag@mail.example.org");
  EXPECT_EQ(parsed->local_part, "user.name+tag");
  EXPECT_EQ(parsed->domain, "mail.example.org");
  EXPECT_EQ(parsed->rest, " SIZE=100");
}

TEST(MailboxAddress, ForwardPathTakesABarePostmasterInAnyCase) {
  for (const std::string_view text : {"<Postmaster> NOTIFY=NEVER", "<postmaster> NOTIFY=NEVER"}) {
    std::string_view rest;
    const auto address = parse_forward_path(text, rest);
    ASSERT_TRUE(address) << text;
    EXPECT_EQ(address->path, text.substr(1, 10));
    EXPECT_EQ(address->local_part, text.substr(1, 10));
    EXPECT_EQ(address->domain, "");
    EXPECT_EQ(rest, " NOTIFY=NEVER");
  }
  std::string_view rest;
  EXPECT_FALSE(parse_path("<Postmaster>", rest));  // only as a forward-path
  EXPECT_FALSE(parse_forward_path("<postmasters>", rest));
  EXPECT_FALSE(parse_forward_path("<webmaster>", rest));
  const auto full = parse_forward_path("<postmaster@example.org>", rest);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->domain, "example.org");
}

TEST(MailboxAddress, NullReversePathIsEmpty) {
  const auto parsed = parse("<>");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->path, "");
  EXPECT_EQ(parsed->rest, "");
}

TEST(MailboxAddress, DropsASourceRoute) {
  const auto parsed = parse("<@relay1.example,@relay2.example:user@example.org>");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->path, "user@example.org");
  EXPECT_FALSE(parse("<@relay1.example>"));
}

TEST(MailboxAddress, QuotedLocalPartsKeepTheirQuotes) {
  const auto parsed = parse(R"(<"john \"q\" doe@home"@example.org>)");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->local_part, R"("john \"q\" doe@home")");
  EXPECT_EQ(parsed->domain, "example.org");
  EXPECT_TRUE(parse(R"(<"a>b"@example.org> BODY=8BITMIME)"));
}

TEST(MailboxAddress, AcceptsAddressLiterals) {
  EXPECT_EQ(parse("<x@[192.0.2.1]>")->domain, "[192.0.2.1]");
  EXPECT_EQ(parse("<x@[IPv6:2001:db8::1]>")->domain, "[IPv6:2001:db8::1]");
  EXPECT_FALSE(parse("<x@[]>"));
  EXPECT_FALSE(parse("<x@[1.2.3.4>"));
  EXPECT_FALSE(parse("<x@[999.2.3.4]>"));
  EXPECT_FALSE(parse("<x@[2001:db8::1]>"));  // IPv6 needs its tag
}

TEST(MailboxAddress, QuotedPairsEscapeOnlyPrintableAscii) {
  EXPECT_EQ(parse(R"(<"a\ \"b\\c\~"@example.org>)")->local_part, R"("a\ \"b\\c\~")");
  for (const std::string& bad : {"<\"x\\\r\\\0y\"@example.com>"s, "<\"x\\\ty\"@example.com>"s,
                                "<\"x\\\x1By\"@example.com>"s, "<\"x\\\x7Fy\"@example.com>"s,
                                "<\"x\\\xC3\xA4y\"@example.com>"s, "<\"x\\\ny\"@example.com>"s}) {
    EXPECT_FALSE(parse(bad)) << bad;
  }
}

TEST(MailboxAddress, NonAsciiOnlyAsWellFormedUtf8) {
  EXPECT_EQ(parse("<j\xC3\xB6rg@b\xC3\xA4r.example>")->path, "j\xC3\xB6rg@b\xC3\xA4r.example");
  EXPECT_TRUE(parse("<\"\xF0\x9F\x90\xA6 pigeon\"@example.org>"));
  for (const std::string& bad : {
           "<j\xC3rg@example.org>"s,          // a lead byte without its continuation
           "<j\xB6rg@example.org>"s,          // a continuation byte alone
           "<j\xC0\xAFrg@example.org>"s,      // an overlong '/'
           "<j\xED\xA0\x80rg@example.org>"s,  // a surrogate
           "<j\xF4\x90\x80\x80@example.org>"s,  // past U+10FFFF
           "<j\xF8\x88\x80\x80\x80@example.org>"s,  // a five-octet form
           "<j\xC2\x85rg@example.org>"s,      // U+0085, a C1 control (NEL)
           "<\"j\xC2\x9B\"@example.org>"s,   // U+009B, CSI
           "<user@b\xC3r.example>"s,
       }) {
    EXPECT_FALSE(parse(bad)) << bad;
  }
}

TEST(MailboxAddress, RejectsBadSyntax) {
  for (const std::string_view bad :
       {"", "user@example.org", "<user@example.org", "<userexample.org>", "<@example.org>", "<user@>",
        "<.user@example.org>", "<user.@example.org>", "<us..er@example.org>", "<us er@example.org>",
        "<user@-example.org>", "<user@example-.org>", "<user@example..org>", "<user@exa_mple.org>",
        R"(<"unterminated@example.org>)", "<\"ctl\x01\"@example.org>", "<user@example.org@>"}) {
    EXPECT_FALSE(parse(bad)) << bad;
  }
}

TEST(MailboxAddress, EnforcesLengthLimits) {
  const std::string label63(63, 'd');
  EXPECT_TRUE(parse("<" + std::string(64, 'l') + "@example.org>"));
  EXPECT_FALSE(parse("<" + std::string(65, 'l') + "@example.org>"));
  EXPECT_TRUE(parse("<u@" + label63 + ".org>"));
  EXPECT_FALSE(parse("<u@" + label63 + "d.org>"));
  // A path of 256 octets is the longest (RFC 5321 §4.5.3.1.3).
  const std::string domain = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'e');
  EXPECT_TRUE(parse("<" + std::string(2, 'l') + "@" + domain + ">"));
  EXPECT_FALSE(parse("<" + std::string(3, 'l') + "@" + domain + ">"));
}

}  // namespace
}  // namespace pigeon::protocol
