// The host's X25519 PSA driver (boards/host/psa_x25519_driver.h): the public key
// of RFC 7748's test key pairs, from the driver itself and through PSA's key
// export as TLS 1.3 calls it; other keys left to Mbed TLS.
#include "boards/host/psa_x25519_driver.h"

#include <gtest/gtest.h>

#include <mbedtls/ecp.h>

#include <array>
#include <cstdint>
#include <ctime>

#include "firmware/crypto_random.hpp"
#include "firmware/tls_arena.hpp"
#include "hal/posix/posix_entropy.hpp"

namespace pigeon {
namespace {

using Key = std::array<std::uint8_t, 32>;

// RFC 7748 section 6.1: Alice's and Bob's private keys and their public keys.
constexpr Key alice_private{0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66, 0x45,
                            0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a};
constexpr Key alice_public{0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
                           0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
constexpr Key bob_private{0x5d, 0xab, 0x08, 0x7e, 0x62, 0x4a, 0x8a, 0x4b, 0x79, 0xe1, 0x7f, 0x8b, 0x83, 0x80, 0x0e, 0xe6,
                          0x6f, 0x3b, 0xb1, 0x29, 0x26, 0x18, 0xb6, 0xfd, 0x1c, 0x2f, 0x8b, 0x27, 0xff, 0x88, 0xe0, 0xeb};
constexpr Key bob_public{0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61, 0xc2, 0xec, 0xe4, 0x35, 0x37,
                         0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78, 0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f};

psa_key_attributes_t x25519_pair() {
  psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
  psa_set_key_type(&attributes, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY));
  psa_set_key_bits(&attributes, 255);
  psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_DERIVE);
  psa_set_key_algorithm(&attributes, PSA_ALG_ECDH);
  return attributes;
}

Key driver_public(const Key& secret) {
  const psa_key_attributes_t attributes = x25519_pair();
  Key out{};
  std::size_t length = 0;
  EXPECT_EQ(pigeon_x25519_transparent_export_public_key(&attributes, secret.data(), secret.size(), out.data(),
                                                        out.size(), &length),
            PSA_SUCCESS);
  EXPECT_EQ(length, out.size());
  return out;
}

TEST(PsaX25519Driver, GivesRfc7748PublicKeys) {
  EXPECT_EQ(driver_public(alice_private), alice_public);
  EXPECT_EQ(driver_public(bob_private), bob_public);
}

TEST(PsaX25519Driver, LeavesOtherKeysToMbedTls) {
  psa_key_attributes_t p256 = PSA_KEY_ATTRIBUTES_INIT;
  psa_set_key_type(&p256, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
  psa_set_key_bits(&p256, 256);
  Key out{};
  std::size_t length = 0;
  EXPECT_EQ(pigeon_x25519_transparent_export_public_key(&p256, alice_private.data(), alice_private.size(), out.data(),
                                                        out.size(), &length),
            PSA_ERROR_NOT_SUPPORTED);
}

TEST(PsaX25519Driver, RefusesWrongSizes) {
  const psa_key_attributes_t attributes = x25519_pair();
  std::array<std::uint8_t, 31> short_out{};
  std::size_t length = 0;
  EXPECT_EQ(pigeon_x25519_transparent_export_public_key(&attributes, alice_private.data(), alice_private.size(),
                                                        short_out.data(), short_out.size(), &length),
            PSA_ERROR_BUFFER_TOO_SMALL);
  Key out{};
  EXPECT_EQ(pigeon_x25519_transparent_export_public_key(&attributes, alice_private.data(), 31, out.data(), out.size(),
                                                        &length),
            PSA_ERROR_INVALID_ARGUMENT);
}

CryptoRandom& random_generator() {
  static hal::PosixEntropy entropy;
  tls_arena_init();
  static CryptoRandom random(entropy);
  return random;
}

double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Mbed TLS's own way to the public key: mbedtls_ecp_mul on the Montgomery ladder.
Key ladder_public(const Key& secret) {
  mbedtls_ecp_keypair pair;
  mbedtls_ecp_keypair_init(&pair);
  Key out{};
  std::size_t length = 0;
  EXPECT_EQ(mbedtls_ecp_read_key(MBEDTLS_ECP_DP_CURVE25519, &pair, secret.data(), secret.size()), 0);
  EXPECT_EQ(mbedtls_ecp_keypair_calc_public(&pair, CryptoRandom::generate, &random_generator()), 0);
  EXPECT_EQ(mbedtls_ecp_write_public_key(&pair, MBEDTLS_ECP_PF_UNCOMPRESSED, &length, out.data(), out.size()), 0);
  mbedtls_ecp_keypair_free(&pair);
  return out;
}

Key psa_public(const Key& secret) {
  const psa_key_attributes_t attributes = x25519_pair();
  psa_key_id_t key = 0;
  EXPECT_EQ(psa_import_key(&attributes, secret.data(), secret.size(), &key), PSA_SUCCESS);
  Key out{};
  std::size_t length = 0;
  EXPECT_EQ(psa_export_public_key(key, out.data(), out.size(), &length), PSA_SUCCESS);
  EXPECT_EQ(length, out.size());
  psa_destroy_key(key);
  return out;
}

// Through PSA's dispatch, as TLS 1.3's key share is exported: the same keys as
// Mbed TLS's ladder, in a fraction of its CPU time (Everest takes about 1.1
// million instructions, the ladder 7.3 million: the driver is the one called).
TEST(PsaX25519Driver, ServesPsaExportPublicKey) {
  ASSERT_TRUE(random_generator().ready());
  ASSERT_EQ(psa_crypto_init(), PSA_SUCCESS);
  EXPECT_EQ(psa_public(alice_private), alice_public);
  EXPECT_EQ(ladder_public(alice_private), alice_public);
  constexpr int rounds = 20;
  double start = cpu_seconds();
  for (int round = 0; round < rounds; ++round) EXPECT_EQ(psa_public(bob_private), bob_public);
  const double psa_s = cpu_seconds() - start;
  start = cpu_seconds();
  for (int round = 0; round < rounds; ++round) EXPECT_EQ(ladder_public(bob_private), bob_public);
  const double ladder_s = cpu_seconds() - start;
  EXPECT_LT(psa_s, ladder_s / 2) << "PSA " << psa_s << " s, the ladder " << ladder_s << " s";
}

}  // namespace
}  // namespace pigeon
