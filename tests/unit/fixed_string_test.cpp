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

// A default string_view has a null pointer (the null reverse-path <> arrives
// so); the sanitizer tier fails this test if that reaches memcpy.
TEST(FixedString, AssignsAnEmptyViewWithANullPointer) {
  FixedString<5> name;
  ASSERT_TRUE(name.assign("alice"));
  EXPECT_TRUE(name.assign(std::string_view{}));
  EXPECT_TRUE(name.empty());
  PackedStrings<8, 2> list;
  EXPECT_TRUE(list.add(std::string_view{}));
  EXPECT_EQ(list[0], "");
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
