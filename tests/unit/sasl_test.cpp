#include "protocol/sasl.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pigeon::protocol {
namespace {

// The views point into `message`, so callers keep it alive.
std::optional<SaslPlain> parse(const std::string& message) {
  return parse_sasl_plain({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()});
}

TEST(SaslPlain, SplitsTheThreeFields) {
  const std::string message("admin\0alice\0s3cret", 18);
  const auto plain = parse(message);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->authzid, "admin");
  EXPECT_EQ(plain->authcid, "alice");
  EXPECT_EQ(plain->password, "s3cret");
}

TEST(SaslPlain, AllowsAnEmptyAuthzid) {
  const std::string message("\0alice\0pw", 9);
  const auto plain = parse(message);
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->authzid.empty());
}

TEST(SaslPlain, RejectsMalformedMessages) {
  EXPECT_FALSE(parse("alice"));
  EXPECT_FALSE(parse(std::string("\0alice", 6)));
  EXPECT_FALSE(parse(std::string("\0\0pw", 4)));
  EXPECT_FALSE(parse(std::string("\0alice\0", 7)));
  EXPECT_FALSE(parse(std::string("a\0b\0c\0d", 7)));
  EXPECT_FALSE(parse(std::string(1, '\0') + std::string(256, 'u') + std::string(1, '\0') + "pw"));
}

TEST(SaslPlain, LoginChallengesAreTheBase64Prompts) {
  EXPECT_EQ(sasl_login_username_challenge, "VXNlcm5hbWU6");
  EXPECT_EQ(sasl_login_password_challenge, "UGFzc3dvcmQ6");
  EXPECT_TRUE(is_sasl_cancel("*"));
  EXPECT_FALSE(is_sasl_cancel("**"));
}

}  // namespace
}  // namespace pigeon::protocol
