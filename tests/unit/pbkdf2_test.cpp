// HMAC-SHA256 and the stepped PBKDF2 against published vectors (RFC 4231,
// RFC 7914 §11) and against Mbed TLS's own PBKDF2, however the steps are cut.
#include "firmware/pbkdf2.hpp"

#include <mbedtls/pkcs5.h>

#include <gtest/gtest.h>

#include "firmware/crypto_random.hpp"
#include "firmware/tls_arena.hpp"
#include "hal/posix/posix_entropy.hpp"

#include <string>
#include <vector>

namespace pigeon {
namespace {

std::span<const std::uint8_t> bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string hex(const Sha256Digest& digest) {
  std::string out;
  for (std::uint8_t byte : digest) {
    constexpr char digits[] = "0123456789abcdef";
    out += digits[byte >> 4];
    out += digits[byte & 0xf];
  }
  return out;
}

TEST(HmacSha256, MatchesRfc4231) {
  HmacSha256 hmac;
  Sha256Digest out{};
  const std::vector<std::uint8_t> key1(20, 0x0b);
  hmac.set_key(key1);
  hmac.mac({bytes("Hi There")}, out);
  EXPECT_EQ(hex(out), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 6: a key longer than a block is hashed first; the message in two parts.
  const std::vector<std::uint8_t> key6(131, 0xaa);
  hmac.set_key(key6);
  hmac.mac({bytes("Test Using Larger Than Block-Siz"), bytes("e Key - Hash Key First")}, out);
  EXPECT_EQ(hex(out), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Pbkdf2, MatchesPublishedVectors) {
  EXPECT_EQ(hex(pbkdf2_sha256("password", bytes("salt"), 1)),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
  EXPECT_EQ(hex(pbkdf2_sha256("password", bytes("salt"), 2)),
            "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
  EXPECT_EQ(hex(pbkdf2_sha256("password", bytes("salt"), 4096)),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
}

Sha256Digest mbedtls_pbkdf2(std::string_view password, std::span<const std::uint8_t> salt,
                            std::uint32_t iterations) {
  Sha256Digest out{};
  EXPECT_EQ(mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, bytes(password).data(), password.size(), salt.data(),
                                          salt.size(), iterations, out.size(), out.data()),
            0);
  return out;
}

TEST(Pbkdf2, StepsOfAnySizeGiveMbedTlsResult) {
  tls_arena_init();
  hal::PosixEntropy entropy;
  CryptoRandom random(entropy);
  std::array<std::uint8_t, 16> salt{};
  ASSERT_TRUE(random.fill(salt));
  const std::string long_password(200, 'p');  // longer than an HMAC block: hashed first
  for (const std::string_view password : {std::string_view(""), std::string_view("hunter2"),
                                          std::string_view(long_password)}) {
    for (const std::uint32_t slice : {1u, 7u, 1000u}) {
      Pbkdf2Sha256 derivation;
      derivation.start(password, salt, 1000);
      std::uint32_t steps = 0;
      while (!derivation.done()) {
        EXPECT_LE(derivation.step(slice), slice);
        ++steps;
      }
      EXPECT_EQ(steps, (999 + slice - 1) / slice);
      EXPECT_EQ(derivation.result(), mbedtls_pbkdf2(password, salt, 1000)) << password << slice;
    }
  }
}

TEST(Pbkdf2, OneIterationIsDoneAtStartAndWipeForgetsTheResult) {
  Pbkdf2Sha256 derivation;
  derivation.start("password", bytes("salt"), 1);
  EXPECT_TRUE(derivation.done());
  EXPECT_EQ(derivation.step(5), 0u);
  EXPECT_EQ(hex(derivation.result()), "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
  derivation.wipe();
  EXPECT_EQ(derivation.result(), Sha256Digest{});
}

}  // namespace
}  // namespace pigeon
