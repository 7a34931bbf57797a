#include "protocol/dot_stuffer.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "tests/unit/feed_splits.hpp"

namespace pigeon::protocol {
namespace {

using testing::SplitPlan;
using testing::bytes_of;
using testing::same_result_for_every_split;
using testing::text_of;

// Stuffs `content` handed over in pieces cut by `plan`, through an output
// buffer of `capacity` bytes that is read whenever the stuffer stops.
std::string stuff(std::string_view content, const SplitPlan& plan, std::size_t capacity = 4096) {
  std::vector<std::uint8_t> storage(capacity);
  OutputBuffer out(storage);
  DotStuffer stuffer;
  std::string sent;
  auto read_all = [&] {
    sent.append(text_of(out.pending()));
    out.clear();
  };
  std::size_t offset = 0;
  for (const std::size_t piece : plan.pieces_for(content.size())) {
    for (auto rest = bytes_of(content.substr(offset, piece)); !rest.empty(); read_all()) {
      rest = rest.subspan(stuffer.write(rest, out));
    }
    offset += piece;
  }
  while (!stuffer.finish(out)) read_all();
  read_all();
  return sent;
}

std::string stuff_in_every_split(std::string_view content, std::size_t capacity = 4096) {
  return same_result_for_every_split([&](const SplitPlan& plan) { return stuff(content, plan, capacity); });
}

TEST(DotStuffer, DoublesDotsAtLineStartsOnly) {
  EXPECT_EQ(stuff_in_every_split(".one\r\ntwo.\r\n..three\r\n.\r\n"), "..one\r\ntwo.\r\n...three\r\n..\r\n.\r\n");
}

TEST(DotStuffer, EndsWithTheTerminatorWhateverTheLastLine) {
  EXPECT_EQ(stuff_in_every_split(""), ".\r\n");
  EXPECT_EQ(stuff_in_every_split("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(stuff_in_every_split("a"), "a\r\n.\r\n");
  EXPECT_EQ(stuff_in_every_split("a\r"), "a\r\n.\r\n");
}

TEST(DotStuffer, WaitsForRoomInASmallOutputBuffer) {
  std::string content;
  for (int i = 0; i < 200; ++i) content += ".line " + std::to_string(i) + "\r\n";
  std::string expected;
  for (int i = 0; i < 200; ++i) expected += "..line " + std::to_string(i) + "\r\n";
  EXPECT_EQ(stuff_in_every_split(content, 3), expected + ".\r\n");
}

TEST(DotStuffer, TakesNothingWhenTheOutputIsFull) {
  std::array<std::uint8_t, 4> storage{};
  OutputBuffer out(storage);
  out.append(std::string_view("1234"));
  DotStuffer stuffer;
  EXPECT_EQ(stuffer.write(bytes_of(".a\r\n"), out), 0u);
  EXPECT_FALSE(stuffer.finish(out));
}

}  // namespace
}  // namespace pigeon::protocol
