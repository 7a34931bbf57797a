#include "protocol/trace_header_counter.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace pigeon::protocol {
namespace {

std::span<const std::uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

const std::string message =
    "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "RECEIVED: from c\r\n\tby d; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "X-Note: Received: not a field name here\r\n"
    " Received: a folded line, not a field\r\n"
    "Receive: almost\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "Received: in the body, not counted\r\n";

TEST(TraceHeaderCounter, CountsReceivedFieldsOfTheHeaderSectionOnly) {
  TraceHeaderCounter counter;
  counter.feed(bytes_of(message));
  EXPECT_EQ(counter.received_headers(), 2u);
}

TEST(TraceHeaderCounter, SameCountByteByByteAndInRandomSplits) {
  TraceHeaderCounter single;
  for (const char c : message) single.feed(bytes_of(std::string(1, c)));
  EXPECT_EQ(single.received_headers(), 2u);
  std::mt19937 random(7);
  for (int round = 0; round < 100; ++round) {
    TraceHeaderCounter counter;
    for (std::size_t at = 0; at < message.size();) {
      const std::size_t length = std::min<std::size_t>(1 + random() % 20, message.size() - at);
      counter.feed(bytes_of(message.substr(at, length)));
      at += length;
    }
    EXPECT_EQ(counter.received_headers(), 2u);
  }
}

TEST(TraceHeaderCounter, ResetStartsOver) {
  TraceHeaderCounter counter;
  counter.feed(bytes_of(message));
  counter.reset();
  counter.feed(bytes_of(std::string("Received: x\r\n")));
  EXPECT_EQ(counter.received_headers(), 1u);
}

}  // namespace
}  // namespace pigeon::protocol
