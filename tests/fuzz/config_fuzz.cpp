// Fuzzes the configuration reader (firmware/config.hpp) with any file, as an
// operator's typo, a truncated write or a hostile local user would make one:
// - no line crashes it or fails an assertion;
// - a refused line gets a reason of printable text (it goes to the log and
//   the terminal; the relay then refuses to start, so what the line changed
//   before it was refused does not matter);
// - what was accepted respects every limit the rest of the relay relies on:
//   the build's limits, non-empty names, each user found under its own name;
// - a value written in double quotes with \" and \\ escapes reads back as
//   exactly the bytes that were quoted, whatever they are;
// - the same holds for OpenWrt's UCI format: each input is read once as it
//   comes (its first statement decides the format) and once as the options of
//   a `config pigeon` section, and a value quoted as `uci export` quotes it
//   ('it'\''s') reads back as exactly its bytes.
#include <string>

#include "firmware/config.hpp"
#include "firmware/uci_line.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

bool printable(std::string_view text) {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

void check_limits(const RelayConfig& config) {
  require(config.max_message_bytes <= PIGEON_MAX_MESSAGE_BYTES);
  require(config.max_recipients >= 1 && config.max_recipients <= PIGEON_MAX_RECIPIENTS);
  require(config.smarthost.connections <= PIGEON_SMARTHOST_CONNECTIONS);
  require(config.user_count <= config.users.size());
  require(config.local_domain_count <= config.local_domains.size());
  require(config.relay_network_count <= config.relay_networks.size());
  for (std::size_t d = 0; d < config.local_domain_count; ++d) require(!config.local_domains[d].view().empty());
  for (std::size_t u = 0; u < config.user_count; ++u) {
    const UserEntry& user = config.users[u];
    require(!user.name.view().empty() && !user.password_hash.view().empty());
    require(config.find_user(user.name.view()) != nullptr);
  }
  for (std::size_t n = 0; n < config.relay_network_count; ++n) {
    const NetworkPrefix& prefix = config.relay_networks[n];
    require(prefix.length_bits <= (prefix.address.is_v6 ? 128 : 32));
  }
}

// Applies every line of `file`, checking each answer; `first_line` comes
// before them.
void apply_file(std::string_view first_line, std::string_view file) {
  static RelayConfig config;  // large: kept out of the stack, reset per input
  config = RelayConfig();
  ConfigReader reader(config);
  require(reader.apply(first_line).empty());
  while (!file.empty()) {
    const std::size_t end = file.find('\n');
    const std::string_view line = file.substr(0, end);
    file = end == std::string_view::npos ? std::string_view() : file.substr(end + 1);
    const std::string_view reason = reader.apply(line);
    require(printable(reason));
  }
  check_limits(config);
}

// Quotes `value` as docs/configuration.md says and reads it back.
void quoted_value_reads_back(std::string_view value) {
  if (value.size() > max_quoted_value_bytes) value = value.substr(0, max_quoted_value_bytes);
  if (value.find_first_of("\r\n") != std::string_view::npos) return;  // a line cannot hold them
  std::string line = "smarthost_password = \"";
  for (const char c : value) {
    if (c == '"' || c == '\\') line += '\\';
    line += c;
  }
  line += "\"  # comment";
  const std::optional<ConfigLine> split = split_config_line(line);
  require(split && split->error.empty() && split->key == "smarthost_password");
  require(split->value() == value);
}

// Quotes `value` as `uci export` does and reads it back.
void uci_quoted_value_reads_back(std::string_view value) {
  if (value.find_first_of("\r\n") != std::string_view::npos) return;  // a line cannot hold them
  // The three words must fit together (a longer line is refused with a reason).
  constexpr std::string_view key = "smarthost_password";
  if (value.size() > max_uci_words_bytes - key.size() - std::string_view("option").size()) return;
  std::string line = "option smarthost_password '";
  for (const char c : value) {
    if (c == '\'') {
      line += "'\\''";
    } else {
      line += c;
    }
  }
  line += "'  # comment";
  const UciLine words(line);
  require(words.error().empty() && words.size() == 3 && words[1] == key);
  require(words[2] == value);
}

}  // namespace
}  // namespace pigeon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  pigeon::fuzz::apply_file("", text);
  pigeon::fuzz::apply_file("config pigeon 'main'", text);
  pigeon::fuzz::quoted_value_reads_back(text);
  pigeon::fuzz::uci_quoted_value_reads_back(text);
  return 0;
}
