// OpenWrt's UCI format (firmware/uci_line.hpp, ConfigReader in
// firmware/config.hpp): the words of a line, the detection of the format, and
// every statement's mapping onto the relay's keys.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "firmware/config.hpp"
#include "firmware/uci_line.hpp"

namespace pigeon {
namespace {

std::vector<std::string> words_of(std::string_view line) {
  const UciLine words(line);
  EXPECT_EQ(words.error(), "") << line;
  std::vector<std::string> result;
  for (std::size_t i = 0; i < words.size(); ++i) result.emplace_back(words[i]);
  return result;
}

using Words = std::vector<std::string>;

TEST(UciLine, SplitsWordsAndUndoesQuotes) {
  EXPECT_EQ(words_of("config pigeon 'main'"), (Words{"config", "pigeon", "main"}));
  EXPECT_EQ(words_of("\toption host_name \"router.lan\"\r\n"), (Words{"option", "host_name", "router.lan"}));
  EXPECT_EQ(words_of("option smarthost_password 'two words # kept'"),
            (Words{"option", "smarthost_password", "two words # kept"}));
  EXPECT_EQ(words_of("option smtp_port 25"), (Words{"option", "smtp_port", "25"}));
  EXPECT_EQ(words_of("option smarthost_user ''"), (Words{"option", "smarthost_user", ""}));
}

TEST(UciLine, SingleQuotesKeepBackslashesDoubleQuotesEscape) {
  EXPECT_EQ(words_of(R"(option smarthost_password 'a\b')"), (Words{"option", "smarthost_password", R"(a\b)"}));
  EXPECT_EQ(words_of(R"(option smarthost_password "say \"hi\" \\ \$")"),
            (Words{"option", "smarthost_password", R"(say "hi" \ $)"}));
  EXPECT_EQ(words_of(R"(option smarthost_password a\ b)"), (Words{"option", "smarthost_password", "a b"}));
}

TEST(UciLine, AdjacentPartsMakeOneWordAsUciExportWritesAQuote) {
  // `uci export` writes the value it's as 'it'\''s'.
  EXPECT_EQ(words_of(R"(option smarthost_password 'it'\''s')"), (Words{"option", "smarthost_password", "it's"}));
  EXPECT_EQ(words_of(R"(option x ab'c d'"e f")"), (Words{"option", "x", "abc de f"}));
}

TEST(UciLine, AHashStartingAWordIsAComment) {
  EXPECT_EQ(words_of("# a comment"), Words{});
  EXPECT_EQ(words_of("   "), Words{});
  EXPECT_EQ(words_of("option smtp_port '25'  # the LAN's relay"), (Words{"option", "smtp_port", "25"}));
  EXPECT_EQ(words_of("option smarthost_password ab#cd"), (Words{"option", "smarthost_password", "ab#cd"}));
  EXPECT_EQ(words_of("option smarthost_password '#x'"), (Words{"option", "smarthost_password", "#x"}));
}

TEST(UciLine, MalformedLinesSayWhy) {
  EXPECT_EQ(UciLine("option host_name 'router").error(), "a ' without its closing quote");
  EXPECT_EQ(UciLine("option host_name \"router").error(), "a \" without its closing quote");
  EXPECT_EQ(UciLine("option host_name router\\").error(),
            "a backslash at the end of the line (continued lines are not read)");
  EXPECT_EQ(UciLine("option a b c d").error(), "too many words (a value with blanks is written in quotes)");
  EXPECT_EQ(UciLine("option x '" + std::string(max_uci_words_bytes, 'y') + "'").error(),
            "the line's words are too long");
}

// Reads `lines` as one file; the reasons, one per line (empty when accepted).
std::vector<std::string> read(RelayConfig& config, std::initializer_list<std::string_view> lines,
                              ConfigFormat expected = ConfigFormat::uci) {
  ConfigReader reader(config);
  std::vector<std::string> reasons;
  for (const std::string_view line : lines) reasons.emplace_back(reader.apply(line));
  EXPECT_EQ(reader.format(), expected);
  return reasons;
}

std::vector<std::string> accepted(std::size_t count) { return std::vector<std::string>(count); }

TEST(ConfigReader, ReadsAnOpenWrtFile) {
  RelayConfig config;
  const auto reasons = read(config, {
      "# /etc/config/pigeon",
      "",
      "config pigeon 'main'",
      "\toption host_name 'router.lan'",
      "\toption listen_address '192.168.1.1'",
      "\toption smtp_port '25'",
      "\tlist relay_networks '192.168.1.0/24'",
      "\tlist relay_networks 'fd00::/8'",
      "\tlist local_domains 'lan'",
      "\tlist user 'alice $pbkdf2-sha256$i=1$abc$def'",
      "\tlist plaintext_login 'smtp'",
      "\tlist plaintext_login 'pop3'",
      "\toption smarthost_host 'smtp.example.net'",
      "\toption smarthost_password 'it'\\''s # secret'",
      "\toption spool_bytes '4194304'",
  });
  EXPECT_EQ(reasons, accepted(15));
  EXPECT_EQ(config.host_name.view(), "router.lan");
  EXPECT_EQ(config.listen_address.bytes[0], 192);
  EXPECT_EQ(config.port(Service::smtp), 25);
  EXPECT_EQ(config.relay_network_count, 2u);
  EXPECT_TRUE(config.is_local_domain("lan"));
  ASSERT_NE(config.find_user("alice"), nullptr);
  EXPECT_TRUE(config.allows_plaintext_login(Service::smtp));
  EXPECT_TRUE(config.allows_plaintext_login(Service::pop3));
  EXPECT_FALSE(config.allows_plaintext_login(Service::submission));
  EXPECT_EQ(config.smarthost.host.view(), "smtp.example.net");
  EXPECT_EQ(config.smarthost.password.view(), "it's # secret");
  EXPECT_EQ(config.spool_bytes, 4u * 1024 * 1024);
}

TEST(ConfigReader, AnOptionOnARepeatableKeyTakesSeveralValuesAsInPigeonsFormat) {
  RelayConfig config;
  EXPECT_EQ(read(config, {"config pigeon", "option local_domains 'a.example b.example'"}), accepted(2));
  EXPECT_TRUE(config.is_local_domain("b.example"));
}

TEST(ConfigReader, APackageLineMayComeFirst) {
  RelayConfig config;
  EXPECT_EQ(read(config, {"package pigeon", "config pigeon main", "option smtp_port 2500"}), accepted(3));
  EXPECT_EQ(config.port(Service::smtp), 2500);
}

TEST(ConfigReader, PigeonsOwnFormatIsReadAsBefore) {
  RelayConfig config;
  const auto reasons =
      read(config, {"# comment", "host_name = router.lan", "plaintext_login = smtp", "plaintext_login = pop3"},
           ConfigFormat::pigeon);
  EXPECT_EQ(reasons, accepted(4));
  EXPECT_EQ(config.host_name.view(), "router.lan");
  // Like a UCI list, each plaintext_login line adds listeners.
  EXPECT_TRUE(config.allows_plaintext_login(Service::smtp));
  EXPECT_TRUE(config.allows_plaintext_login(Service::pop3));
}

TEST(ConfigReader, TheFirstStatementDecides) {
  RelayConfig config;
  // A UCI statement in a pigeon file is a line without '='.
  EXPECT_EQ(read(config, {"smtp_port = 25", "option smtp_port '26'"}, ConfigFormat::pigeon),
            (std::vector<std::string>{"", "expected key = value"}));
  EXPECT_EQ(config.port(Service::smtp), 25);
  // And a pigeon line in a UCI file is no UCI statement.
  EXPECT_EQ(read(config, {"config pigeon 'main'", "smtp_port = 27"}),
            (std::vector<std::string>{"", "expected config, option or list"}));
  EXPECT_EQ(config.port(Service::smtp), 25);
  EXPECT_EQ(ConfigReader(config).format(), ConfigFormat::undecided);
}

TEST(ConfigReader, BadUciStatementsSayWhy) {
  RelayConfig config;
  const auto reasons = read(config, {
      "option smtp_port '25'",
      "config",
      "config pigeon 'main' extra",
      "package network",
      "config pigeon 'main'",
      "option smtp_port",
      "option smtp_port '70000'",
      "list smtp_port '25'",
      "option colour 'blue'",
      "list local_domains",
      "section pigeon",
      "option host_name 'a",
  });
  EXPECT_EQ(reasons, (std::vector<std::string>{
                         "an option before the first 'config pigeon' line",
                         "expected: config pigeon ['NAME']",
                         "expected: config pigeon ['NAME']",
                         "expected: package pigeon",
                         "",
                         "expected: option KEY 'VALUE'",
                         "expected a number in range",
                         "this key takes one value: write it as an option",
                         "unknown key",
                         "expected: list KEY 'VALUE'",
                         "expected config, option or list",
                         "a ' without its closing quote",
                     }));
  EXPECT_EQ(config.port(Service::smtp), 2525);
}

TEST(ConfigReader, AnotherPackagesSectionIsRefusedOnceAndItsOptionsIgnored) {
  RelayConfig config;
  const auto reasons = read(config, {
      "config interface 'lan'",
      "option proto 'static'",
      "config pigeon 'main'",
      "option smtp_port '25'",
  });
  EXPECT_EQ(reasons, (std::vector<std::string>{"pigeon reads only 'config pigeon' sections", "", "", ""}));
  EXPECT_EQ(config.port(Service::smtp), 25);
}

TEST(ConfigReader, BuildLimitsHoldForLists) {
  RelayConfig config;
  ConfigReader reader(config);
  EXPECT_EQ(reader.apply("config pigeon 'main'"), "");
  for (std::size_t i = 0; i < config.relay_networks.size(); ++i) {
    ASSERT_EQ(reader.apply("list relay_networks '10.0.0." + std::to_string(i) + "'"), "");
  }
  EXPECT_EQ(reader.apply("list relay_networks '10.0.1.0/24'"),
            "relay_networks: " + std::to_string(config.relay_networks.size() + 1) +
                " relay networks are above this build's limit of " + std::to_string(config.relay_networks.size()) +
                " (PIGEON_MAX_RELAY_NETWORKS)");
}

}  // namespace
}  // namespace pigeon
