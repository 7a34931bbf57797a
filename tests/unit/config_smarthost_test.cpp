#include <gtest/gtest.h>

#include "firmware/config.hpp"
#include "firmware/ip_address.hpp"

namespace pigeon {
namespace {

TEST(SmarthostConfig, DefaultsMatchTheDocumentation) {
  const RelayConfig config;
  EXPECT_TRUE(config.smarthost.host.view().empty());
  EXPECT_EQ(config.smarthost.port, 587);
  EXPECT_EQ(config.smarthost.tls, SmarthostTls::starttls);
  EXPECT_FALSE(config.smarthost.pinned);
  EXPECT_EQ(config.smarthost.connections, 1u);
  EXPECT_EQ(config.retry_initial_s, 60u);
  EXPECT_EQ(config.retry_max_s, 3600u);
  EXPECT_EQ(config.max_queue_age_s, 5u * 86400);
  EXPECT_EQ(config.alert_window_s, 300u);
  EXPECT_EQ(config.alert_max_per_window, 10u);
  EXPECT_FALSE(config.is_relay_network(*parse_ip_address("127.0.0.1")));
}

TEST(SmarthostConfig, AppliesEveryKey) {
  RelayConfig config;
  for (const char* line : {"smarthost_host = mail.example.net", "smarthost_port = 465", "smarthost_tls = implicit",
                           "smarthost_ca_file = /etc/ssl/ca.pem", "smarthost_user = router",
                           "smarthost_password = s3cret", "smarthost_connections = 2", "retry_initial_s = 1",
                           "retry_max_s = 8", "max_queue_age_s = 30", "alert_from = alerts@router.example",
                           "alert_window_s = 2", "alert_max_per_window = 3",
                           "smarthost_pin_sha256 = 00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"}) {
    EXPECT_EQ(apply_config_line(config, line), "") << line;
  }
  EXPECT_EQ(config.smarthost.host.view(), "mail.example.net");
  EXPECT_EQ(config.smarthost.port, 465);
  EXPECT_EQ(config.smarthost.tls, SmarthostTls::implicit);
  EXPECT_EQ(config.smarthost.ca_file.view(), "/etc/ssl/ca.pem");
  EXPECT_EQ(config.smarthost.user.view(), "router");
  EXPECT_EQ(config.smarthost.password.view(), "s3cret");
  EXPECT_EQ(config.smarthost.connections, 2u);
  EXPECT_TRUE(config.smarthost.pinned);
  EXPECT_EQ(config.smarthost.pin_sha256[1], 0x11);
  EXPECT_EQ(config.smarthost.pin_sha256[31], 0xFF);
  EXPECT_EQ(config.retry_initial_s, 1u);
  EXPECT_EQ(config.retry_max_s, 8u);
  EXPECT_EQ(config.max_queue_age_s, 30u);
  EXPECT_EQ(config.alert_from.view(), "alerts@router.example");
  EXPECT_EQ(config.alert_window_s, 2u);
  EXPECT_EQ(config.alert_max_per_window, 3u);
}

TEST(SmarthostConfig, RelayNetworksMatchByPrefix) {
  RelayConfig config;
  EXPECT_EQ(apply_config_line(config, "relay_networks = 192.168.0.0/16, 10.1.2.3 fd00::/8"), "");
  EXPECT_TRUE(config.is_relay_network(*parse_ip_address("192.168.77.1")));
  EXPECT_FALSE(config.is_relay_network(*parse_ip_address("192.169.0.1")));
  EXPECT_TRUE(config.is_relay_network(*parse_ip_address("10.1.2.3")));
  EXPECT_FALSE(config.is_relay_network(*parse_ip_address("10.1.2.4")));
  EXPECT_TRUE(config.is_relay_network(*parse_ip_address("fd12::1")));
  EXPECT_FALSE(config.is_relay_network(*parse_ip_address("fe80::1")));
}

TEST(SmarthostConfig, RefusesBadValues) {
  RelayConfig config;
  EXPECT_NE(apply_config_line(config, "smarthost_tls = maybe"), "");
  EXPECT_NE(apply_config_line(config, "smarthost_pin_sha256 = 0011"), "");
  EXPECT_NE(apply_config_line(config, "smarthost_pin_sha256 = " + std::string(64, 'g')), "");
  EXPECT_FALSE(config.smarthost.pinned);
  EXPECT_NE(apply_config_line(config, "relay_networks = 10.0.0.0/33"), "");
  EXPECT_NE(apply_config_line(config, "relay_networks = ::/129"), "");
  EXPECT_NE(apply_config_line(config, "relay_networks = nowhere/8"), "");
  EXPECT_NE(apply_config_line(config, "smarthost_port = 0"), "");
  EXPECT_NE(apply_config_line(config, "smarthost_connections = 0"), "");
}

}  // namespace
}  // namespace pigeon
