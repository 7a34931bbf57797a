#include "protocol/alert_message.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pigeon::protocol {
namespace {

AlertFields fields(std::string_view subject, std::string_view body) {
  AlertFields f;
  f.from = "pigeon@router.example";
  f.to = "admin@example.org";
  f.subject = subject;
  f.body = body;
  f.message_id = "1795358553.1.a1b2c3";
  f.host_name = "router.example";
  f.unix_time_s = 1795358553;
  return f;
}

std::string compose(const AlertFields& f) {
  std::array<char, 4096> out{};
  const auto result = compose_alert(f, out);
  EXPECT_TRUE(result.ok());
  return std::string(out.data(), result.length);
}

AlertComposeStatus status_of(const AlertFields& f) {
  std::array<char, 4096> out{};
  return compose_alert(f, out).status;
}

TEST(AlertMessage, PlainAsciiAlertIsSevenBit) {
  EXPECT_EQ(compose(fields("Disk full", "The disk is full.\nFree some space.\n")),
            "Date: Sun, 22 Nov 2026 14:42:33 +0000\r\n"
            "From: pigeon@router.example\r\n"
            "To: admin@example.org\r\n"
            "Subject: Disk full\r\n"
            "Message-ID: <1795358553.1.a1b2c3@router.example>\r\n"
            "Auto-Submitted: auto-generated\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 7bit\r\n"
            "\r\n"
            "The disk is full.\r\n"
            "Free some space.\r\n");
}

TEST(AlertMessage, NonAsciiSubjectBecomesEncodedWords) {
  const std::string message = compose(fields("Température élevée: 85 °C", "hot\n"));
  EXPECT_NE(message.find("Subject: =?UTF-8?Q?Temp=C3=A9rature_=C3=A9lev=C3=A9e=3A_85_=C2=B0C?=\r\n"),
            std::string::npos);
}

TEST(AlertMessage, LongSubjectsFoldBetweenWholeCharacters) {
  std::string subject;
  for (int i = 0; i < 40; ++i) subject += "é";
  const std::string message = compose(fields(subject, "x\n"));
  const std::size_t start = message.find("Subject: ");
  const std::string header = message.substr(start, message.find("\r\nMessage-ID") - start);
  // 63 payload characters hold ten 6-character "=C3=A9", so four words.
  EXPECT_EQ(header,
            "Subject: =?UTF-8?Q?=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9?=\r\n"
            " =?UTF-8?Q?=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9?=\r\n"
            " =?UTF-8?Q?=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9?=\r\n"
            " =?UTF-8?Q?=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9?=");
}

TEST(AlertMessage, TextThatLooksEncodedIsEncodedItself) {
  const std::string message = compose(fields("=?UTF-8?Q?x?=", "x\n"));
  EXPECT_NE(message.find("Subject: =?UTF-8?Q?=3D=3FUTF-8=3FQ=3Fx=3F=3D?=\r\n"), std::string::npos);
}

TEST(AlertMessage, NonAsciiBodyIsQuotedPrintable) {
  const std::string message = compose(fields("t", "Température 85°C = trop\ntrailing space \n"));
  EXPECT_NE(message.find("Content-Transfer-Encoding: quoted-printable\r\n"), std::string::npos);
  EXPECT_NE(message.find("\r\n\r\nTemp=C3=A9rature 85=C2=B0C =3D trop\r\ntrailing space=20\r\n"),
            std::string::npos);
}

TEST(AlertMessage, QuotedPrintableLinesStayUnder77Characters) {
  std::string body;
  for (int i = 0; i < 100; ++i) body += "é";
  const std::string message = compose(fields("t", body));
  const std::string encoded = message.substr(message.find("\r\n\r\n") + 4);
  std::size_t line_start = 0;
  std::string decoded_hex;
  while (line_start < encoded.size()) {
    const std::size_t end = encoded.find("\r\n", line_start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - line_start, 76u);
    line_start = end + 2;
  }
  // Escapes are never split by a soft break.
  EXPECT_EQ(encoded.find("=\r\nC3"), std::string::npos);
  EXPECT_EQ(encoded.find("=C\r\n"), std::string::npos);
}

TEST(AlertMessage, OverlongAsciiLineIsQuotedPrintable) {
  const std::string message = compose(fields("t", std::string(1200, 'a')));
  EXPECT_NE(message.find("Content-Transfer-Encoding: quoted-printable\r\n"), std::string::npos);
}

TEST(AlertMessage, CoalescedAlertSaysHowManyOccurred) {
  auto f = fields("Door open", "The door is open.\n");
  f.occurrences = 17;
  f.first_unix_time_s = 1795358500;
  EXPECT_NE(compose(f).find("\r\n\r\nThis alert occurred 17 times since Sun, 22 Nov 2026 14:41:40 +0000.\r\n\r\n"
                            "The door is open.\r\n"),
            std::string::npos);
}

TEST(AlertMessage, RefusesHeaderInjection) {
  EXPECT_EQ(status_of(fields("hi\r\nBcc: victim@example.org", "x")), AlertComposeStatus::header_injection);
  EXPECT_EQ(status_of(fields("hi\nBcc: victim@example.org", "x")), AlertComposeStatus::header_injection);
  EXPECT_EQ(status_of(fields("hi\rX: y", "x")), AlertComposeStatus::header_injection);
  auto to = fields("hi", "x");
  to.to = "admin@example.org\r\nBcc: victim@example.org";
  EXPECT_EQ(status_of(to), AlertComposeStatus::header_injection);
  auto from = fields("hi", "x");
  from.from = "pigeon@router.example\n";
  EXPECT_EQ(status_of(from), AlertComposeStatus::header_injection);
}

TEST(AlertMessage, RefusesBadAddressesAndText) {
  auto to = fields("hi", "x");
  to.to = "Admin <admin@example.org>";
  EXPECT_EQ(status_of(to), AlertComposeStatus::bad_address);
  to.to = "nobody";
  EXPECT_EQ(status_of(to), AlertComposeStatus::bad_address);
  to.to = "a@b@c";
  EXPECT_EQ(status_of(to), AlertComposeStatus::bad_address);
  EXPECT_EQ(status_of(fields("\xC3", "x")), AlertComposeStatus::bad_text);
  EXPECT_EQ(status_of(fields("ok", std::string_view("a\0b", 3))), AlertComposeStatus::bad_text);
}

TEST(AlertMessage, ReportsAnOutputTooSmall) {
  std::array<char, 100> out{};
  EXPECT_EQ(compose_alert(fields("hi", "x"), out).status, AlertComposeStatus::too_long);
}

TEST(Utf8, AcceptsWellFormedAndRefusesMalformed) {
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x90\xA6"));  // é € 🐦
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));                           // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));                       // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));                       // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));                   // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));                           // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));                               // stray continuation
}

}  // namespace
}  // namespace pigeon::protocol
