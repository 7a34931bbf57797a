// PIGEON_ASSERT stays on in every preset (NDEBUG included) and the host's handler
// names the condition and the place before it aborts.
#include "protocol/assert.hpp"

#include <gtest/gtest.h>

namespace {

int checked_half(int even) {
  PIGEON_ASSERT(even % 2 == 0);
  return even / 2;
}

TEST(Assert, PassesWhenTheConditionHolds) { EXPECT_EQ(checked_half(8), 4); }

TEST(Assert, FailureNamesTheConditionAndAborts) {
  EXPECT_DEATH(checked_half(7), "assertion failed: even % 2 == 0 \\(.*assert_test\\.cpp:[0-9]+\\)");
}

TEST(Assert, UnreachableAborts) { EXPECT_DEATH(PIGEON_UNREACHABLE(), "assertion failed: unreachable"); }


}  // namespace
