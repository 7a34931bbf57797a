#include "firmware/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

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

TEST(Config, AHashInsideAValueIsNotAComment) {
  RelayConfig config;
  EXPECT_EQ(apply_config_line(config, "smarthost_password = ab#cd"), "");
  EXPECT_EQ(config.smarthost.password.view(), "ab#cd");
  EXPECT_EQ(apply_config_line(config, "smarthost_password = ab#cd\t# after a tab"), "");
  EXPECT_EQ(config.smarthost.password.view(), "ab#cd");
  EXPECT_EQ(apply_config_line(config, "smarthost_user = #x"), "");
  EXPECT_EQ(config.smarthost.user.view(), "");
  EXPECT_EQ(apply_config_line(config, "#host_name = commented.example"), "");
  EXPECT_EQ(config.host_name.view(), "localhost");
}

TEST(Config, AQuotedValueKeepsBlanksHashesAndEscapedQuotes) {
  RelayConfig config;
  EXPECT_EQ(apply_config_line(config, R"(smarthost_password = " a #b \"c\" \\d "  # comment)"), "");
  EXPECT_EQ(config.smarthost.password.view(), R"( a #b "c" \d )");
  EXPECT_EQ(apply_config_line(config, "smarthost_user = \"\"\r\n"), "");
  EXPECT_EQ(config.smarthost.user.view(), "");
  EXPECT_EQ(apply_config_line(config, "smarthost_port=\"465\""), "");
  EXPECT_EQ(config.smarthost.port, 465);
  // A quote inside an unquoted value is an ordinary character.
  EXPECT_EQ(apply_config_line(config, R"(smarthost_user = it"s)"), "");
  EXPECT_EQ(config.smarthost.user.view(), R"(it"s)");
}

TEST(Config, RefusesMalformedQuotedValues) {
  RelayConfig config;
  EXPECT_EQ(apply_config_line(config, R"(smarthost_password = "open)"), "quoted value without its closing quote");
  EXPECT_EQ(apply_config_line(config, R"(smarthost_password = "a\nb")"),
            R"(expected \" or \\ after a backslash in a quoted value)");
  EXPECT_EQ(apply_config_line(config, R"(smarthost_password = "a\)"),
            R"(expected \" or \\ after a backslash in a quoted value)");
  EXPECT_EQ(apply_config_line(config, R"(smarthost_password = "a" b)"), "text after the closing quote");
  EXPECT_EQ(apply_config_line(config, "smarthost_password = \"" + std::string(max_quoted_value_bytes + 1, 'x') + "\""),
            "quoted value too long");
  EXPECT_EQ(apply_config_line(config, "smarthost_password = \"" + std::string(max_quoted_value_bytes, 'x') + "\""), "");
  EXPECT_EQ(config.smarthost.password.view().size(), max_quoted_value_bytes);
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

TEST(Config, TicketLifetimeDefaultsToTwoHoursAndStopsAtSevenDays) {
  RelayConfig config;
  EXPECT_EQ(config.tls_ticket_lifetime_s, 7200u);
  EXPECT_EQ(apply_config_line(config, "tls_ticket_lifetime_s = 604800"), "");
  EXPECT_EQ(config.tls_ticket_lifetime_s, 604800u);
  EXPECT_EQ(apply_config_line(config, "tls_ticket_lifetime_s = 604801"), "expected a number in range");
  EXPECT_EQ(config.tls_ticket_lifetime_s, 604800u);
  EXPECT_EQ(apply_config_line(config, "tls_ticket_lifetime_s = 0"), "");
  EXPECT_EQ(config.tls_ticket_lifetime_s, 0u);
}

TEST(Config, DefaultsFollowTheCompileTimeLimitsWhenLower) {
  const RelayConfig config;
  EXPECT_EQ(config.max_recipients, std::min<std::uint32_t>(100, PIGEON_MAX_RECIPIENTS));
  EXPECT_EQ(config.max_recipients, 100u);  // the host build's limit: RFC 5321's minimum
  EXPECT_EQ(config.max_message_bytes, std::min<std::uint32_t>(10u * 1024 * 1024, PIGEON_MAX_MESSAGE_BYTES));
  EXPECT_LE(config.smarthost.connections, std::uint32_t{PIGEON_SMARTHOST_CONNECTIONS});
}

std::string line(const std::string& key, std::uint64_t value) { return key + " = " + std::to_string(value); }

TEST(Config, AcceptsValuesAtTheCompileTimeLimits) {
  RelayConfig config;
  EXPECT_EQ(apply_config_line(config, line("max_recipients", PIGEON_MAX_RECIPIENTS)), "");
  EXPECT_EQ(apply_config_line(config, line("max_message_bytes", PIGEON_MAX_MESSAGE_BYTES)), "");
  EXPECT_EQ(apply_config_line(config, line("smarthost_connections", PIGEON_SMARTHOST_CONNECTIONS)), "");
  EXPECT_EQ(config.max_recipients, std::uint32_t{PIGEON_MAX_RECIPIENTS});
  EXPECT_EQ(config.max_message_bytes, std::uint32_t{PIGEON_MAX_MESSAGE_BYTES});
  EXPECT_EQ(config.smarthost.connections, std::uint32_t{PIGEON_SMARTHOST_CONNECTIONS});
}

TEST(Config, RefusesAValueAboveACompileTimeLimitNamingKeyValueAndLimit) {
  RelayConfig config;
  EXPECT_EQ(apply_config_line(config, "max_recipients = 101"),
            "max_recipients: 101 recipients are above this build's limit of 100 (PIGEON_MAX_RECIPIENTS)");
  EXPECT_EQ(apply_config_line(config, line("max_message_bytes", PIGEON_MAX_MESSAGE_BYTES + 1u)),
            "max_message_bytes: " + std::to_string(PIGEON_MAX_MESSAGE_BYTES + 1u) +
                " bytes are above this build's limit of " + std::to_string(PIGEON_MAX_MESSAGE_BYTES) +
                " (PIGEON_MAX_MESSAGE_BYTES)");
  EXPECT_EQ(apply_config_line(config, line("smarthost_connections", PIGEON_SMARTHOST_CONNECTIONS + 1)),
            "smarthost_connections: " + std::to_string(PIGEON_SMARTHOST_CONNECTIONS + 1) +
                " connections are above this build's limit of " + std::to_string(PIGEON_SMARTHOST_CONNECTIONS) +
                " (PIGEON_SMARTHOST_CONNECTIONS)");
  const RelayConfig defaults;
  EXPECT_EQ(config.max_recipients, defaults.max_recipients);
  EXPECT_EQ(config.max_message_bytes, defaults.max_message_bytes);
  EXPECT_EQ(config.smarthost.connections, defaults.smarthost.connections);
}

TEST(Config, RefusesMoreTableEntriesThanTheBuildHolds) {
  RelayConfig config;
  for (int i = 0; i < PIGEON_MAX_USERS; ++i) {
    ASSERT_EQ(apply_config_line(config, "user = u" + std::to_string(i) + " hash"), "");
  }
  EXPECT_EQ(apply_config_line(config, "user = one_more hash"),
            "user: " + std::to_string(PIGEON_MAX_USERS + 1) + " users are above this build's limit of " +
                std::to_string(PIGEON_MAX_USERS) + " (PIGEON_MAX_USERS)");
  EXPECT_EQ(config.find_user("one_more"), nullptr);

  std::string domains = "local_domains =";
  std::string networks = "relay_networks =";
  for (int i = 0; i <= PIGEON_MAX_LOCAL_DOMAINS; ++i) domains += " d" + std::to_string(i) + ".example";
  for (int i = 0; i <= PIGEON_MAX_RELAY_NETWORKS; ++i) networks += " 10.0." + std::to_string(i) + ".0/24";
  EXPECT_EQ(apply_config_line(config, domains),
            "local_domains: " + std::to_string(PIGEON_MAX_LOCAL_DOMAINS + 1) +
                " local domains are above this build's limit of " + std::to_string(PIGEON_MAX_LOCAL_DOMAINS) +
                " (PIGEON_MAX_LOCAL_DOMAINS)");
  EXPECT_EQ(apply_config_line(config, networks),
            "relay_networks: " + std::to_string(PIGEON_MAX_RELAY_NETWORKS + 1) +
                " relay networks are above this build's limit of " + std::to_string(PIGEON_MAX_RELAY_NETWORKS) +
                " (PIGEON_MAX_RELAY_NETWORKS)");
}

}  // namespace
}  // namespace pigeon
