#include "protocol/line_scanner.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace pigeon::protocol {
namespace {

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Drives the scanner the way an engine does: a receive buffer that keeps the
// unconsumed bytes, filled in pieces of the given sizes.
std::vector<std::string> scan_all(LineScanner& scanner, std::string_view input,
                                  const std::vector<std::size_t>& piece_sizes) {
  std::vector<std::string> events;
  std::string buffer;
  std::size_t offset = 0;
  for (std::size_t piece : piece_sizes) {
    buffer.append(input.substr(offset, piece));
    offset += piece;
    for (;;) {
      const LineScan scan = scanner.next(bytes_of(buffer));
      if (scan.kind == LineScan::Kind::line) events.emplace_back(scan.line);
      if (scan.kind == LineScan::Kind::too_long) events.emplace_back("<too long>");
      buffer.erase(0, scan.consumed_bytes);
      if (scan.kind == LineScan::Kind::need_more && scan.consumed_bytes == 0) break;
    }
  }
  return events;
}

TEST(LineScanner, SplitsCrlfAndLoneLfLines) {
  LineScanner scanner(512);
  const auto events = scan_all(scanner, "EHLO a\r\nNOOP\nQUIT\r\n", {20});
  EXPECT_EQ(events, (std::vector<std::string>{"EHLO a", "NOOP", "QUIT"}));
}

TEST(LineScanner, AcceptsLineOfExactlyTheLimit) {
  LineScanner scanner(10);
  const auto events = scan_all(scanner, "12345678\r\n", {10});
  EXPECT_EQ(events, (std::vector<std::string>{"12345678"}));
}

TEST(LineScanner, DiscardsOverlongLineAndContinues) {
  LineScanner scanner(10);
  const std::string input = std::string(25, 'x') + "\r\nNOOP\r\n";
  const auto events = scan_all(scanner, input, {input.size()});
  EXPECT_EQ(events, (std::vector<std::string>{"<too long>", "NOOP"}));
}

// next_from() as the engines call it: one buffer, an offset, need_more only
// when nothing more can be read; the same events as next() by hand.
TEST(LineScanner, NextFromReadsPastOverlongBytesAndStopsWithTheInput) {
  LineScanner scanner(10);
  const std::string input = "EHLO a\r\n" + std::string(25, 'x') + "\r\nNOOP\r\nQU";
  std::vector<std::string> events;
  std::size_t consumed = 0;
  for (LineScan scan; (scan = scanner.next_from(bytes_of(input), consumed)).kind != LineScan::Kind::need_more;) {
    events.emplace_back(scan.kind == LineScan::Kind::line ? std::string(scan.line) : "<too long>");
  }
  EXPECT_EQ(events, (std::vector<std::string>{"EHLO a", "<too long>", "NOOP"}));
  EXPECT_EQ(consumed, input.size() - 2);  // "QU" waits for the rest of its line
  // An overlong line cut short by the end of the input: its bytes are used up.
  LineScanner overlong(10);
  std::size_t used = 0;
  EXPECT_EQ(overlong.next_from(bytes_of(std::string(25, 'y')), used).kind, LineScan::Kind::need_more);
  EXPECT_EQ(used, 25u);
}

TEST(LineScanner, SameEventsForEverySplitOfTheInput) {
  const std::string input = "HELO x\r\n" + std::string(40, 'y') + "\r\nRSET\r\n\r\nQUIT\n";
  LineScanner whole(16);
  const auto expected = scan_all(whole, input, {input.size()});
  ASSERT_EQ(expected, (std::vector<std::string>{"HELO x", "<too long>", "RSET", "", "QUIT"}));

  LineScanner bytewise(16);
  EXPECT_EQ(scan_all(bytewise, input, std::vector<std::size_t>(input.size(), 1)), expected);

  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::size_t> pieces;
    for (std::size_t left = input.size(); left > 0;) {
      const std::size_t piece = std::min<std::size_t>(left, 1 + random() % 12);
      pieces.push_back(piece);
      left -= piece;
    }
    LineScanner scanner(16);
    EXPECT_EQ(scan_all(scanner, input, pieces), expected);
  }
}

}  // namespace
}  // namespace pigeon::protocol
