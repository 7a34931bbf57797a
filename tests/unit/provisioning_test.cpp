// The start-up steps boards share: the default user and TLS to the smarthost.
#include "firmware/provisioning.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "firmware/server_identity.hpp"
#include "firmware/tls_arena.hpp"
#include "hal/posix/posix_entropy.hpp"

namespace pigeon {
namespace {

CryptoRandom& random_generator() {
  static hal::PosixEntropy entropy;
  tls_arena_init();
  static CryptoRandom random(entropy);
  return random;
}

// A self-signed certificate, NUL-terminated: a CA the smarthost's chain may lead to.
std::string ca_certificate_pem() {
  std::array<char, 4096> key{};
  std::array<char, 4096> cert{};
  ServerIdentityPem identity{key, cert};
  EXPECT_TRUE(generate_server_identity(random_generator(), "ca.example", 1'800'000'000, identity));
  return {cert.data(), identity.cert_length};
}

SmarthostConfig smarthost_named(std::string_view host) {
  SmarthostConfig smarthost;
  smarthost.host.assign(host);
  return smarthost;
}

TEST(Provisioning, TheDefaultUserLogsInWithItsPassword) {
  RelayConfig config;
  ASSERT_TRUE(add_default_user(random_generator(), "s3cret-password", config, 10));
  const UserEntry* user = config.find_user(default_user_name);
  ASSERT_NE(user, nullptr);
  EXPECT_TRUE(verify_password("s3cret-password", user->password_hash.view()));
  EXPECT_FALSE(verify_password("guess", user->password_hash.view()));
}

TEST(Provisioning, NoDefaultUserWhenTheTableIsFull) {
  RelayConfig config;
  for (int i = 0; i < PIGEON_MAX_USERS; ++i) ASSERT_TRUE(config.add_user("u" + std::to_string(i), "h"));
  EXPECT_FALSE(add_default_user(random_generator(), "password", config, 10));
}

TEST(Provisioning, SmarthostTlsIsNotSetUpWhenUnused) {
  SmarthostTlsClient tls(random_generator());
  EXPECT_EQ(set_up_smarthost_tls(SmarthostConfig{}, nullptr, tls), "");
  SmarthostConfig plaintext = smarthost_named("mail.example.net");
  plaintext.tls = SmarthostTls::none;
  EXPECT_EQ(set_up_smarthost_tls(plaintext, nullptr, tls), "");
  EXPECT_FALSE(tls.has_ca());
}

TEST(Provisioning, SmarthostTlsNeedsCaCertificates) {
  SmarthostTlsClient tls(random_generator());
  const SmarthostConfig smarthost = smarthost_named("mail.example.net");
  EXPECT_EQ(set_up_smarthost_tls(smarthost, nullptr, tls), "smarthost_ca_file must name a PEM file of CA certificates");
  EXPECT_EQ(set_up_smarthost_tls(smarthost, "", tls), "the smarthost's CA certificates are missing or do not load");
  EXPECT_EQ(set_up_smarthost_tls(smarthost, "not a certificate", tls),
            "the smarthost's CA certificates are missing or do not load");
  EXPECT_FALSE(tls.has_ca());
}

TEST(Provisioning, SmarthostTlsTakesPemTextOrTheConfiguredFile) {
  const std::string pem = ca_certificate_pem();
  SmarthostTlsClient from_text(random_generator());
  EXPECT_EQ(set_up_smarthost_tls(smarthost_named("mail.example.net"), pem.c_str(), from_text), "");
  EXPECT_TRUE(from_text.has_ca());

  const std::string path = testing::TempDir() + "provisioning_ca.pem";
  std::FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(pem.c_str(), file);
  std::fclose(file);
  SmarthostConfig smarthost = smarthost_named("mail.example.net");
  smarthost.ca_file.assign(path);
  SmarthostTlsClient from_file(random_generator());
  EXPECT_EQ(set_up_smarthost_tls(smarthost, nullptr, from_file), "");
  EXPECT_TRUE(from_file.has_ca());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace pigeon
