// PSA's random source (firmware/crypto_random.cpp): PSA draws from the newest
// generator alive, and the end of one leaves the others in charge. A process
// with several relays (the simulator) ends one at every power cut.
#include "firmware/crypto_random.hpp"

#include <gtest/gtest.h>
#include <psa/crypto.h>

#include <array>
#include <memory>

#include "firmware/tls_arena.hpp"
#include "hal/sim/sim_entropy.hpp"

namespace pigeon {
namespace {

bool psa_draws() {
  std::array<std::uint8_t, 32> bytes{};
  return psa_generate_random(bytes.data(), bytes.size()) == PSA_SUCCESS;
}

class CryptoRandomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tls_arena_init();
    ASSERT_EQ(psa_crypto_init(), PSA_SUCCESS);
  }
};

TEST_F(CryptoRandomTest, PsaHasNoSourceWithoutAGenerator) { EXPECT_FALSE(psa_draws()); }

TEST_F(CryptoRandomTest, TheEndOfTheNewestLeavesTheOlderInCharge) {
  hal::SimEntropy first_entropy(1), second_entropy(2);
  CryptoRandom first(first_entropy);
  auto second = std::make_unique<CryptoRandom>(second_entropy);
  ASSERT_TRUE(first.ready() && second->ready());
  EXPECT_TRUE(psa_draws());
  second.reset();  // before the fix PSA was left with no source here
  EXPECT_TRUE(psa_draws());
}

TEST_F(CryptoRandomTest, TheEndOfAnOlderOneKeepsTheNewest) {
  hal::SimEntropy first_entropy(1), second_entropy(2), third_entropy(3);
  auto first = std::make_unique<CryptoRandom>(first_entropy);
  auto second = std::make_unique<CryptoRandom>(second_entropy);
  CryptoRandom third(third_entropy);
  first.reset();
  second.reset();
  EXPECT_TRUE(psa_draws());
}

TEST_F(CryptoRandomTest, NoSourceOnceEveryGeneratorEnded) {
  hal::SimEntropy first_entropy(1), second_entropy(2);
  auto first = std::make_unique<CryptoRandom>(first_entropy);
  auto second = std::make_unique<CryptoRandom>(second_entropy);
  first.reset();
  second.reset();
  EXPECT_FALSE(psa_draws());
}

}  // namespace
}  // namespace pigeon
