// The first-boot identity: a certificate every client library accepts.
#include "firmware/server_identity.hpp"

#include <gtest/gtest.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <cstdio>
#include <optional>
#include <string>

#include "firmware/tls_arena.hpp"
#include "hal/posix/posix_entropy.hpp"

namespace pigeon {
namespace {

struct Identity {
  std::array<char, 4096> key{};
  std::array<char, 4096> cert{};
  ServerIdentityPem pem{key, cert};
};

CryptoRandom& random_generator() {
  static hal::PosixEntropy entropy;
  tls_arena_init();
  static CryptoRandom random(entropy);
  return random;
}

// Parses the certificate and hands it to `check`.
template <typename Check>
void with_parsed_certificate(Identity& identity, Check check) {
  mbedtls_x509_crt parsed;
  mbedtls_x509_crt_init(&parsed);
  const auto* der = reinterpret_cast<const unsigned char*>(identity.cert.data());
  ASSERT_EQ(mbedtls_x509_crt_parse(&parsed, der, identity.pem.cert_length + 1), 0);
  check(parsed);
  mbedtls_x509_crt_free(&parsed);
}

TEST(ServerIdentity, IsSelfSignedForTheHostName) {
  Identity identity;
  ASSERT_TRUE(generate_server_identity(random_generator(), "relay.example", 1'800'000'000, identity.pem));
  EXPECT_EQ(std::string(identity.key.data(), 27), "-----BEGIN EC PRIVATE KEY--");
  with_parsed_certificate(identity, [](const mbedtls_x509_crt& cert) {
    char subject[256];
    mbedtls_x509_dn_gets(subject, sizeof subject, &cert.subject);
    EXPECT_STREQ(subject, "CN=relay.example, O=pigeon");
    EXPECT_EQ(cert.valid_from.year, 2027);
    EXPECT_EQ(cert.valid_to.year, 2037);
  });
}

// RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the key's BIT
// STRING value, for a P-256 key the 65-byte uncompressed point that ends the
// SubjectPublicKeyInfo.
TEST(ServerIdentity, SubjectKeyIdentifierIsTheTruncatedSha256OfThePublicKey) {
  Identity identity;
  ASSERT_TRUE(generate_server_identity(random_generator(), "relay.example", 1'800'000'000, identity.pem));
  with_parsed_certificate(identity, [](const mbedtls_x509_crt& cert) {
    constexpr std::size_t point_bytes = 65;
    ASSERT_GT(cert.pk_raw.len, point_bytes);
    const unsigned char* point = cert.pk_raw.p + cert.pk_raw.len - point_bytes;
    ASSERT_EQ(point[0], 0x04);  // uncompressed
    std::array<unsigned char, 32> digest{};
    ASSERT_EQ(mbedtls_sha256(point, point_bytes, digest.data(), 0), 0);
    ASSERT_EQ(cert.subject_key_id.len, 20u);
    EXPECT_EQ(std::string(cert.subject_key_id.p, cert.subject_key_id.p + 20),
              std::string(digest.begin(), digest.begin() + 20));
  });
}

// The fingerprint is the SHA-256 of the DER bytes Mbed TLS parses out of the
// PEM, whatever the line ends; a PEM without a readable certificate has none.
TEST(ServerIdentity, FingerprintIsTheSha256OfTheDerCertificate) {
  Identity identity;
  ASSERT_TRUE(generate_server_identity(random_generator(), "relay.example", 1'800'000'000, identity.pem));
  std::string expected;
  with_parsed_certificate(identity, [&](const mbedtls_x509_crt& cert) {
    std::array<unsigned char, 32> hash{};
    ASSERT_EQ(mbedtls_sha256(cert.raw.p, cert.raw.len, hash.data(), 0), 0);
    char hex[4];
    for (const unsigned char byte : hash) {
      std::snprintf(hex, sizeof hex, "%02X:", byte);
      expected += hex;
    }
    expected.pop_back();
  });
  const std::string pem(identity.cert.data(), identity.pem.cert_length);
  std::array<char, fingerprint_chars> out{};
  EXPECT_EQ(certificate_fingerprint(pem, out), expected);
  std::string crlf;
  for (const char c : pem) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_EQ(certificate_fingerprint("some text first\n" + crlf, out), expected);

  EXPECT_EQ(certificate_fingerprint("", out), std::nullopt);
  EXPECT_EQ(certificate_fingerprint(pem.substr(0, pem.size() / 2), out), std::nullopt);  // no END line
  std::string damaged = pem;
  damaged[40] = '*';
  EXPECT_EQ(certificate_fingerprint(damaged, out), std::nullopt);
  EXPECT_EQ(certificate_fingerprint("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", out), std::nullopt);
}

// DER wants the shortest INTEGER: a serial with a redundant leading zero octet
// (or a negative one) makes OpenSSL 3 refuse the certificate. With random serials
// a bad one would show up about once in 256 identities.
TEST(ServerIdentity, SerialIsAlwaysAMinimalPositiveInteger) {
  for (int round = 0; round < 1024; ++round) {
    Identity identity;
    ASSERT_TRUE(generate_server_identity(random_generator(), "localhost", 1'800'000'000, identity.pem));
    with_parsed_certificate(identity, [](const mbedtls_x509_crt& cert) {
      ASSERT_EQ(cert.serial.len, 16u);
      EXPECT_NE(cert.serial.p[0], 0);
      EXPECT_EQ(cert.serial.p[0] & 0x80, 0);
    });
  }
}

}  // namespace
}  // namespace pigeon
