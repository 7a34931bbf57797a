// Which user mail for a local part reaches, postmaster included (RFC 5321 §4.5.1).
#include "firmware/accounts.hpp"

#include <gtest/gtest.h>

namespace pigeon {
namespace {

RelayConfig two_users(std::string_view postmaster_line) {
  RelayConfig config;
  EXPECT_EQ(apply_config_line(config, "user = alice h1"), "");
  EXPECT_EQ(apply_config_line(config, "user = bob h2"), "");
  if (!postmaster_line.empty()) {
    EXPECT_EQ(apply_config_line(config, postmaster_line), "");
  }
  return config;
}

TEST(Accounts, PostmasterIsTheFirstUserByDefault) {
  const RelayConfig config = two_users("");
  const Accounts accounts(config);
  EXPECT_EQ(accounts.postmaster(), std::optional<UserIndex>(0));
  EXPECT_EQ(accounts.find_mailbox("PostMaster"), std::optional<UserIndex>(0));
  EXPECT_EQ(accounts.find_mailbox("BOB"), std::optional<UserIndex>(1));
}

TEST(Accounts, PostmasterIsTheConfiguredUser) {
  const RelayConfig config = two_users("postmaster = bob");
  const Accounts accounts(config);
  EXPECT_EQ(accounts.postmaster(), std::optional<UserIndex>(1));
  EXPECT_EQ(accounts.find_mailbox("postmaster"), std::optional<UserIndex>(1));
}

TEST(Accounts, NoPostmasterWithoutUsersOrForAnUnknownName) {
  const RelayConfig none;
  EXPECT_EQ(Accounts(none).postmaster(), std::nullopt);
  const RelayConfig unknown = two_users("postmaster = carol");
  EXPECT_EQ(Accounts(unknown).postmaster(), std::nullopt);
  EXPECT_EQ(Accounts(unknown).find_mailbox("postmaster"), std::nullopt);
}

}  // namespace
}  // namespace pigeon
