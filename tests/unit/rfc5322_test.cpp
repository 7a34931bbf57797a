#include "protocol/rfc5322.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pigeon::protocol {
namespace {

std::string date(std::int64_t unix_time_s) {
  std::array<char, 32> out{};
  return std::string(format_date(unix_time_s, out));
}

TEST(Rfc5322Date, FormatsKnownInstants) {
  EXPECT_EQ(date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(date(951782400), "Tue, 29 Feb 2000 00:00:00 +0000");
  EXPECT_EQ(date(1795358553), "Sun, 22 Nov 2026 14:42:33 +0000");
  EXPECT_EQ(date(4102444799), "Thu, 31 Dec 2099 23:59:59 +0000");
  EXPECT_EQ(date(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
}

TEST(ReceivedHeader, IsFoldedAndEndsInCrlf) {
  std::array<char, 256> out{};
  const ReceivedTrace trace{"client.example", "127.0.0.1", "relay.example", "ESMTPSA", "00000001",
                            "user@localhost", 0};
  const std::size_t length = write_received_header(trace, out);
  EXPECT_EQ(std::string(out.data(), length),
            "Received: from client.example ([127.0.0.1])\r\n"
            "\tby relay.example (pigeon) with ESMTPSA id 00000001\r\n"
            "\tfor <user@localhost>;\r\n"
            "\tThu, 01 Jan 1970 00:00:00 +0000\r\n");
}

TEST(ReceivedHeader, RefusesAFieldWithAControlByte) {
  std::array<char, 256> out{};
  using namespace std::string_view_literals;  // ""sv keeps a NUL inside the text
  for (const std::string_view bad : {"client\r\nX-Injected: 1"sv, "nul\0"sv, "esc\x1b"sv, "del\x7F"sv}) {
    const ReceivedTrace from{bad, "127.0.0.1", "relay.example", "ESMTP", "1", "", 0};
    EXPECT_EQ(write_received_header(from, out), 0u) << bad;
    const ReceivedTrace to{"client.example", "127.0.0.1", "relay.example", "ESMTP", "1", bad, 0};
    EXPECT_EQ(write_received_header(to, out), 0u) << bad;
  }
  const ReceivedTrace utf8{"client.example", "127.0.0.1", "relay.example", "ESMTP", "1", "j\xC3\xB6rg@example.org", 0};
  EXPECT_NE(write_received_header(utf8, out), 0u);
}

TEST(ReceivedHeader, ReportsABufferTooSmall) {
  std::array<char, 20> out{};
  const ReceivedTrace trace{"c", "127.0.0.1", "h", "ESMTP", "1", "", 0};
  EXPECT_EQ(write_received_header(trace, out), 0u);
}

}  // namespace
}  // namespace pigeon::protocol
