#include "firmware/fixed_string.hpp"

#include <gtest/gtest.h>

namespace pigeon {
namespace {

TEST(FixedString, AssignsWhatFitsAndRefusesTheRest) {
  FixedString<5> name;
  EXPECT_TRUE(name.empty());
  EXPECT_TRUE(name.assign("alice"));
  EXPECT_EQ(name.view(), "alice");
  EXPECT_FALSE(name.assign("mallory"));
  EXPECT_EQ(name.view(), "alice");
}

TEST(PackedStrings, PacksUntilBytesOrCountRunOut) {
  PackedStrings<16, 3> list;
  EXPECT_TRUE(list.add("a@x"));
  EXPECT_TRUE(list.add("bob@y.example"));
  EXPECT_FALSE(list.add("c@z"));  // 3 + 13 bytes used: no room for 3 more
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0], "a@x");
  EXPECT_EQ(list[1], "bob@y.example");
  list.clear();
  EXPECT_TRUE(list.add("1"));
  EXPECT_TRUE(list.add("2"));
  EXPECT_TRUE(list.add(""));
  EXPECT_FALSE(list.add("4"));  // count limit
  EXPECT_EQ(list[2], "");
}

}  // namespace
}  // namespace pigeon
