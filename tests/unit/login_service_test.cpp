// The password checks of logins: the per-address failure budget, the cache of
// verified credentials, and the service that steps PBKDF2 from the loop
// (firmware/login_service.hpp, docs/security.md).
#include "firmware/login_service.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "firmware/tls_arena.hpp"
#include "hal/posix/posix_entropy.hpp"

namespace pigeon {
namespace {

AddressKey key_of(std::uint8_t last_byte) {
  hal::IpAddress address;
  address.bytes[0] = 192;
  address.bytes[3] = last_byte;
  return address_key(address);
}

LoginLimits limits() {
  LoginLimits limits;
  limits.address_free_failures = 2;
  limits.address_delay_ms = 100;
  limits.address_max_delay_ms = 350;
  limits.address_forget_s = 60;
  return limits;
}

TEST(AddressFailures, FreeFailuresStartAtOnceThenTheDelayDoublesToItsCap) {
  const LoginLimits settings = limits();
  AddressFailures failures(settings);
  EXPECT_EQ(failures.charge(key_of(1), 1000), 1000u);
  EXPECT_EQ(failures.charge(key_of(1), 2000), 2000u);
  // Past the budget each check starts a delay after the previous one could.
  EXPECT_EQ(failures.charge(key_of(1), 2000), 2100u);
  EXPECT_EQ(failures.charge(key_of(1), 2000), 2300u);
  EXPECT_EQ(failures.charge(key_of(1), 2000), 2650u);  // 400 capped to 350
  EXPECT_EQ(failures.charge(key_of(1), 9000), 9000u);  // the delay since the last start is over
  EXPECT_EQ(failures.failures(key_of(1)), 6u);
  // Another address has its own budget.
  EXPECT_EQ(failures.charge(key_of(2), 2000), 2000u);
}

TEST(AddressFailures, ASuccessIsRefundedAndAQuietAddressIsForgotten) {
  const LoginLimits settings = limits();
  AddressFailures failures(settings);
  failures.charge(key_of(1), 0);
  failures.charge(key_of(1), 0);
  failures.refund(key_of(1));
  EXPECT_EQ(failures.failures(key_of(1)), 1u);
  EXPECT_EQ(failures.charge(key_of(1), 10), 10u);   // the second failure is still free
  EXPECT_EQ(failures.charge(key_of(1), 10), 110u);  // the third is not
  EXPECT_EQ(failures.charge(key_of(1), 61'010), 61'010u);  // 61 s quiet: a fresh budget
  EXPECT_EQ(failures.failures(key_of(1)), 1u);
}

TEST(AddressFailures, AFullTableForgetsTheAddressSeenLongestAgo) {
  const LoginLimits settings = limits();
  AddressFailures failures(settings);
  for (std::uint8_t address = 0; address < PIGEON_LOGIN_ADDRESSES; ++address) {
    failures.charge(key_of(address), 100 + address);
  }
  failures.charge(key_of(0), 500);  // address 0 is now the most recent, address 1 the oldest
  failures.charge(key_of(200), 600);
  EXPECT_EQ(failures.failures(key_of(1)), 0u);
  EXPECT_EQ(failures.failures(key_of(0)), 2u);
  EXPECT_EQ(failures.failures(key_of(200)), 1u);
}

class WithRandom : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tls_arena_init(); }
  hal::PosixEntropy entropy_;
  CryptoRandom random_{entropy_};
};

using CredentialCacheTest = WithRandom;

TEST_F(CredentialCacheTest, RemembersVerifiedCredentialsUntilTheyExpire) {
  CredentialCache cache;
  ASSERT_TRUE(cache.start(random_));
  const Sha256Digest tag = cache.tag("alice", "secret");
  EXPECT_FALSE(cache.contains(tag, 0, 1000));
  cache.insert(tag, 0);
  EXPECT_TRUE(cache.contains(cache.tag("alice", "secret"), 999, 1000));
  EXPECT_FALSE(cache.contains(tag, 1000, 1000));
  EXPECT_FALSE(cache.contains(cache.tag("alice", "secreT"), 10, 1000));
  // The name's length is part of the message: "ali"+"cesecret" is another credential.
  EXPECT_NE(cache.tag("ali", "cesecret"), tag);
}

TEST_F(CredentialCacheTest, TagsDependOnTheBootKeyAndTheOldestEntryMakesRoom) {
  CredentialCache first;
  CredentialCache second;
  ASSERT_TRUE(first.start(random_));
  ASSERT_TRUE(second.start(random_));
  EXPECT_NE(first.tag("alice", "secret"), second.tag("alice", "secret"));
  for (int user = 0; user <= PIGEON_LOGIN_CACHE_ENTRIES; ++user) {
    first.insert(first.tag(std::to_string(user), "pw"), static_cast<std::uint64_t>(user));
  }
  EXPECT_FALSE(first.contains(first.tag("0", "pw"), 100, 1000));
  EXPECT_TRUE(first.contains(first.tag("1", "pw"), 100, 1000));
}

// A waiter that records every verdict it is given.
class Waiter final : public LoginWaiter {
 public:
  void login_checked(std::optional<UserIndex> user) override { verdicts.push_back(user); }
  std::vector<std::optional<UserIndex>> verdicts;
};

class LoginServiceTest : public WithRandom {
 protected:
  static constexpr std::uint32_t iterations = 5000;
  // Rounds a derivation takes: the first iteration is done at begin().
  static constexpr int rounds = (iterations - 1 + PIGEON_PBKDF2_ITERATIONS_PER_ROUND - 1) / PIGEON_PBKDF2_ITERATIONS_PER_ROUND;

  void SetUp() override {
    std::array<char, max_password_hash_bytes> hash{};
    const auto length = make_password_hash(random_, "right", hash, iterations);
    ASSERT_TRUE(length);
    ASSERT_TRUE(config_.add_user("alice", {hash.data(), *length}));
    config_.login.address_free_failures = 100;
    ASSERT_TRUE(logins_.start(random_));
  }

  // Steps until `waiter` has a verdict; the rounds it took (0: it came with the first step).
  int rounds_until_verdict(Waiter& waiter, std::uint64_t now_ms = 0) {
    for (int round = 0; round < 100; ++round) {
      logins_.step(now_ms);
      if (!waiter.verdicts.empty()) return round;
    }
    return -1;
  }

  hal::IpAddress peer_;
  RelayConfig config_;
  Accounts accounts_{config_};
  LoginService logins_{config_, accounts_};
};

TEST_F(LoginServiceTest, ARightPasswordIsAcceptedAfterTheDerivationsSlices) {
  Waiter waiter;
  logins_.begin(waiter, peer_, "alice", "right", 0);
  EXPECT_EQ(logins_.deadline_ms(), 0u);
  EXPECT_EQ(rounds_until_verdict(waiter), rounds - 1);
  ASSERT_EQ(waiter.verdicts.size(), 1u);
  EXPECT_EQ(waiter.verdicts[0], std::optional<UserIndex>(0));
  EXPECT_EQ(logins_.deadline_ms(), UINT64_MAX);
}

TEST_F(LoginServiceTest, AnUnknownUserCostsWhatAWrongPasswordCosts) {
  Waiter wrong_password;
  logins_.begin(wrong_password, peer_, "alice", "wrong", 0);
  EXPECT_EQ(rounds_until_verdict(wrong_password), rounds - 1);
  Waiter unknown_user;
  logins_.begin(unknown_user, peer_, "mallory", "right", 0);
  EXPECT_EQ(rounds_until_verdict(unknown_user), rounds - 1);
  EXPECT_EQ(wrong_password.verdicts, std::vector<std::optional<UserIndex>>{std::nullopt});
  EXPECT_EQ(unknown_user.verdicts, std::vector<std::optional<UserIndex>>{std::nullopt});
}

TEST_F(LoginServiceTest, ARepeatedLoginSkipsTheDerivationUntilTheCacheExpires) {
  Waiter first;
  logins_.begin(first, peer_, "alice", "right", 0);
  rounds_until_verdict(first);
  Waiter again;
  logins_.begin(again, peer_, "alice", "right", 1000);
  EXPECT_EQ(rounds_until_verdict(again, 1000), 0);
  EXPECT_EQ(again.verdicts[0], std::optional<UserIndex>(0));
  // A wrong password is never taken from the cache.
  Waiter wrong;
  logins_.begin(wrong, peer_, "alice", "wrong", 1000);
  EXPECT_EQ(rounds_until_verdict(wrong, 1000), rounds - 1);
  const std::uint64_t expired_ms = config_.login.cache_s * 1000ull;
  Waiter later;
  logins_.begin(later, peer_, "alice", "right", expired_ms);
  EXPECT_EQ(rounds_until_verdict(later, expired_ms), rounds - 1);
}

TEST_F(LoginServiceTest, WithoutACacheEveryLoginDerives) {
  config_.login.cache_s = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Waiter waiter;
    logins_.begin(waiter, peer_, "alice", "right", 0);
    EXPECT_EQ(rounds_until_verdict(waiter), rounds - 1);
  }
}

TEST_F(LoginServiceTest, ChecksRunOneAtATimeInArrivalOrder) {
  Waiter first;
  Waiter second;
  logins_.begin(first, peer_, "alice", "wrong", 0);
  logins_.begin(second, peer_, "alice", "right", 0);
  EXPECT_EQ(rounds_until_verdict(first), rounds - 1);
  EXPECT_TRUE(second.verdicts.empty());
  EXPECT_EQ(rounds_until_verdict(second), rounds - 1);
}

TEST_F(LoginServiceTest, AnAddressPastItsBudgetWaitsAndACancelledCheckSaysNothing) {
  config_.login.address_free_failures = 0;
  config_.login.address_delay_ms = 500;
  Waiter held;
  logins_.begin(held, peer_, "alice", "right", 1000);
  EXPECT_EQ(logins_.deadline_ms(), 1000u);  // the first check has no previous one to wait for
  rounds_until_verdict(held, 1000);
  Waiter next;
  const LoginTicket ticket = logins_.begin(next, peer_, "alice", "right", 1100);
  EXPECT_EQ(logins_.deadline_ms(), 1500u);
  EXPECT_FALSE(logins_.step(1499));
  EXPECT_TRUE(next.verdicts.empty());
  logins_.cancel(ticket);
  EXPECT_EQ(logins_.deadline_ms(), UINT64_MAX);
  EXPECT_FALSE(logins_.step(2000));
  EXPECT_TRUE(next.verdicts.empty());
}

// Devices behind one address (a NAT) that log in at once must not wait as if
// they were guessing: each check is charged only when the one before it is over.
TEST_F(LoginServiceTest, ConcurrentRightLoginsFromOneAddressAreNotDelayed) {
  config_.login.address_free_failures = 1;
  config_.login.address_delay_ms = 500;
  std::array<Waiter, 4> waiters;
  for (Waiter& waiter : waiters) logins_.begin(waiter, peer_, "alice", "right", 0);
  for (int round = 0; round < rounds * static_cast<int>(waiters.size()); ++round) logins_.step(0);
  for (const Waiter& waiter : waiters) EXPECT_EQ(waiter.verdicts, std::vector<std::optional<UserIndex>>{0});
}

TEST_F(LoginServiceTest, ConcurrentWrongLoginsFromOneAddressWaitAndAHangUpStaysCharged) {
  config_.login.address_free_failures = 1;
  config_.login.address_delay_ms = 500;
  Waiter first;
  Waiter hung_up;
  logins_.begin(first, peer_, "alice", "wrong", 0);
  const LoginTicket ticket = logins_.begin(hung_up, peer_, "alice", "wrong", 0);
  logins_.cancel(ticket);  // before its check could start
  EXPECT_EQ(rounds_until_verdict(first), rounds - 1);
  Waiter third;
  logins_.begin(third, peer_, "alice", "wrong", 0);
  // Two failures counted (the hang-up's too): the third waits 500 ms after the
  // second's start (500), doubled: 1500.
  EXPECT_EQ(logins_.deadline_ms(), 1500u);
  EXPECT_FALSE(logins_.step(1499));
  EXPECT_TRUE(third.verdicts.empty());
  EXPECT_EQ(rounds_until_verdict(third, 1500), rounds - 1);
}

TEST_F(LoginServiceTest, EverySessionCanHaveACheckPending) {
  std::array<Waiter, PIGEON_SMTP_SESSIONS + PIGEON_POP3_SESSIONS> waiters;
  for (Waiter& waiter : waiters) logins_.begin(waiter, peer_, "alice", "wrong", 0);
  for (int round = 0; round < rounds * static_cast<int>(waiters.size()); ++round) logins_.step(0);
  for (const Waiter& waiter : waiters) EXPECT_EQ(waiter.verdicts.size(), 1u);
}

}  // namespace
}  // namespace pigeon
