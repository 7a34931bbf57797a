#include "firmware/config.hpp"

#include <gtest/gtest.h>

namespace pigeon {
namespace {

TEST(Config, DefaultsMatchTheDocumentation) {
  const RelayConfig config;
  EXPECT_EQ(config.host_name.view(), "localhost");
  EXPECT_EQ(config.port(Service::smtp), 2525);
  EXPECT_EQ(config.port(Service::pop3s), 2995);
  EXPECT_EQ(config.listen_address.bytes[0], 127);
  EXPECT_TRUE(config.is_local_domain("LocalHost"));
  EXPECT_FALSE(config.is_local_domain("example.com"));
  EXPECT_FALSE(config.allows_plaintext_login(Service::smtp));
}

TEST(Config, AppliesLinesWithCommentsAndSpaces) {
  RelayConfig config;
  EXPECT_EQ(apply_config_line(config, "  host_name = router.example  # the name"), "");
  EXPECT_EQ(apply_config_line(config, "# only a comment"), "");
  EXPECT_EQ(apply_config_line(config, ""), "");
  EXPECT_EQ(apply_config_line(config, "local_domains = a.example, b.example c.example"), "");
  EXPECT_EQ(apply_config_line(config, "smtp_port = 0"), "");
  EXPECT_EQ(apply_config_line(config, "listen_address = ::1"), "");
  EXPECT_EQ(apply_config_line(config, "plaintext_login = smtp pop3"), "");
  EXPECT_EQ(apply_config_line(config, "user = alice $pbkdf2-sha256$i=1$abc$def"), "");
  EXPECT_EQ(config.host_name.view(), "router.example");
  EXPECT_TRUE(config.is_local_domain("ROUTER.example"));
  EXPECT_TRUE(config.is_local_domain("c.example"));
  EXPECT_EQ(config.port(Service::smtp), 0);
  EXPECT_TRUE(config.listen_address.is_v6);
  EXPECT_TRUE(config.allows_plaintext_login(Service::pop3));
  EXPECT_FALSE(config.allows_plaintext_login(Service::submission));
  ASSERT_NE(config.find_user("alice"), nullptr);
  EXPECT_EQ(config.find_user("alice")->password_hash.view(), "$pbkdf2-sha256$i=1$abc$def");
}

TEST(Config, RefusesBadLinesWithAReason) {
  RelayConfig config;
  EXPECT_EQ(apply_config_line(config, "no equals sign"), "expected key = value");
  EXPECT_EQ(apply_config_line(config, "colour = blue"), "unknown key");
  EXPECT_NE(apply_config_line(config, "smtp_port = 70000"), "");
  EXPECT_NE(apply_config_line(config, "smtp_port = -1"), "");
  EXPECT_NE(apply_config_line(config, "listen_address = 300.1.1.1"), "");
  EXPECT_NE(apply_config_line(config, "plaintext_login = pop3s"), "");
  EXPECT_NE(apply_config_line(config, "user = alice"), "");
  EXPECT_EQ(apply_config_line(config, "user = bob h1"), "");
  EXPECT_EQ(apply_config_line(config, "user = bob h2"), "user named twice");
  EXPECT_NE(apply_config_line(config, "log_level = loud"), "");
  EXPECT_EQ(config.port(Service::smtp), 2525);
}

}  // namespace
}  // namespace pigeon
