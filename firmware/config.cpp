#include "config.hpp"

#include "ip_address.hpp"
#include "protocol/text_builder.hpp"
#include "text.hpp"
#include "uci_line.hpp"

namespace pigeon {
namespace {

constexpr std::array<std::string_view, service_count> service_names{
    "smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps"};

using Setter = std::string_view (*)(RelayConfig&, std::string_view);

constexpr std::uint32_t max_u32 = UINT32_MAX;
// RFC 8446 §4.6.1: no ticket lifetime above seven days.
constexpr std::uint32_t max_tls_ticket_lifetime_s = 7 * 86400;

std::string_view set_u32(std::uint32_t& field, std::string_view value, std::uint32_t min,
                         std::uint32_t max) {
  const auto number = text::parse_u32(value);
  if (!number || *number < min || *number > max) return "expected a number in range";
  field = *number;
  return {};
}

// A compile-time limit (firmware/pigeon_limits.hpp) on what a key may configure.
struct BuildLimit {
  std::string_view key;
  std::string_view what;   // the unit counted, for the reason
  std::string_view macro;  // where a board raises it
  std::uint32_t value;
};

constexpr BuildLimit message_bytes_limit{"max_message_bytes", "bytes", "PIGEON_MAX_MESSAGE_BYTES",
                                         PIGEON_MAX_MESSAGE_BYTES};
constexpr BuildLimit recipients_limit{"max_recipients", "recipients", "PIGEON_MAX_RECIPIENTS", PIGEON_MAX_RECIPIENTS};
constexpr BuildLimit tls_sessions_limit{"tls_sessions", "sessions", "PIGEON_TLS_SESSIONS", PIGEON_TLS_SESSIONS};
constexpr BuildLimit smarthost_connections_limit{"smarthost_connections", "connections",
                                                 "PIGEON_SMARTHOST_CONNECTIONS", PIGEON_SMARTHOST_CONNECTIONS};
constexpr BuildLimit users_limit{"user", "users", "PIGEON_MAX_USERS", PIGEON_MAX_USERS};
constexpr BuildLimit local_domains_limit{"local_domains", "local domains", "PIGEON_MAX_LOCAL_DOMAINS",
                                         PIGEON_MAX_LOCAL_DOMAINS};
constexpr BuildLimit relay_networks_limit{"relay_networks", "relay networks", "PIGEON_MAX_RELAY_NETWORKS",
                                          PIGEON_MAX_RELAY_NETWORKS};

// "max_recipients: 100 recipients are above this build's limit of 32
// (PIGEON_MAX_RECIPIENTS)": the operator learns both numbers and what to raise.
std::string_view above_limit(const BuildLimit& limit, std::uint64_t configured) {
  static std::array<char, 128> reason{};
  protocol::TextBuilder text(reason);
  text.text(limit.key).text(": ").number(static_cast<std::int64_t>(configured)).character(' ').text(limit.what);
  text.text(" are above this build's limit of ").number(limit.value).text(" (").text(limit.macro).character(')');
  return text.view();
}

// A number from `min` up to the build's limit.
std::string_view set_limited_u32(std::uint32_t& field, std::string_view value, std::uint32_t min,
                                 const BuildLimit& limit) {
  std::uint32_t number = 0;
  if (auto error = set_u32(number, value, min, max_u32); !error.empty()) return error;
  if (number > limit.value) return above_limit(limit, number);
  field = number;
  return {};
}

std::string_view set_port(RelayConfig& config, Service service, std::string_view value) {
  std::uint32_t port = 0;
  if (auto error = set_u32(port, value, 0, 65535); !error.empty()) return error;
  config.ports[static_cast<std::size_t>(service)] = static_cast<std::uint16_t>(port);
  return {};
}

std::string_view set_host_name(RelayConfig& config, std::string_view value) {
  if (value.empty() || value.find(' ') != std::string_view::npos) return "expected a host name";
  return config.host_name.assign(value) ? std::string_view{} : "host name too long";
}

std::string_view set_listen_address(RelayConfig& config, std::string_view value) {
  const auto address = parse_ip_address(value);
  if (!address) return "expected an IPv4 or IPv6 address";
  config.listen_address = *address;
  return {};
}

std::string_view add_local_domains(RelayConfig& config, std::string_view value) {
  for (auto domain = text::next_token(value); !domain.empty(); domain = text::next_token(value)) {
    if (config.local_domain_count == config.local_domains.size()) {
      return above_limit(local_domains_limit, config.local_domain_count + 1);
    }
    if (!config.local_domains[config.local_domain_count].assign(domain)) return "domain too long";
    ++config.local_domain_count;
  }
  return {};
}

std::string_view add_user_line(RelayConfig& config, std::string_view value) {
  std::string_view rest = value;
  const auto name = text::next_token(rest);
  const auto hash = text::trim(rest);
  if (name.empty() || hash.empty()) return "expected: user = NAME HASH";
  if (config.find_user(name) != nullptr) return "user named twice";
  if (config.user_count == config.users.size()) return above_limit(users_limit, config.user_count + 1);
  return config.add_user(name, hash) ? std::string_view{} : "name or hash too long";
}

std::string_view add_plaintext_login(RelayConfig& config, std::string_view value) {
  for (auto name = text::next_token(value); !name.empty(); name = text::next_token(value)) {
    bool known = false;
    for (std::size_t i = 0; i < service_count; ++i) {
      if (name == service_names[i] && !is_implicit_tls(static_cast<Service>(i))) {
        config.plaintext_login[i] = known = true;
      }
    }
    if (!known) return "expected listener names: smtp, submission, pop3, imap";
  }
  return {};
}

std::string_view set_log_level(RelayConfig& config, std::string_view value) {
  constexpr std::array<std::string_view, 4> names{"debug", "info", "warning", "error"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (value == names[i]) {
      config.log_level = static_cast<hal::LogLevel>(i);
      return {};
    }
  }
  return "expected debug, info, warning or error";
}

std::string_view add_relay_networks(RelayConfig& config, std::string_view value) {
  for (auto text = text::next_token(value); !text.empty(); text = text::next_token(value)) {
    const std::size_t slash = text.find('/');
    const auto address = parse_ip_address(text.substr(0, slash));
    if (!address) return "expected ADDRESS/BITS network blocks";
    const std::uint32_t max_bits = address->is_v6 ? 128 : 32;
    const auto bits = slash == std::string_view::npos ? std::optional(max_bits) : text::parse_u32(text.substr(slash + 1));
    if (!bits || *bits > max_bits) return "expected ADDRESS/BITS network blocks";
    if (config.relay_network_count == config.relay_networks.size()) {
      return above_limit(relay_networks_limit, config.relay_network_count + 1);
    }
    config.relay_networks[config.relay_network_count++] = {*address, static_cast<std::uint8_t>(*bits)};
  }
  return {};
}

std::string_view set_smarthost_tls(RelayConfig& config, std::string_view value) {
  constexpr std::array<std::string_view, 3> names{"starttls", "implicit", "none"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (value == names[i]) {
      config.smarthost.tls = static_cast<SmarthostTls>(i);
      return {};
    }
  }
  return "expected starttls, implicit or none";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view set_smarthost_pin(RelayConfig& config, std::string_view value) {
  auto& pin = config.smarthost.pin_sha256;
  if (value.size() != 2 * pin.size()) return "expected 64 hex digits (SHA-256 of the public key)";
  for (std::size_t i = 0; i < pin.size(); ++i) {
    const int high = hex_value(value[2 * i]);
    const int low = hex_value(value[2 * i + 1]);
    if (high < 0 || low < 0) return "expected 64 hex digits (SHA-256 of the public key)";
    pin[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  config.smarthost.pinned = true;
  return {};
}

// File permission bits in octal, as chmod(1) takes them ("0660", "660").
std::string_view set_file_mode(std::uint32_t& field, std::string_view value) {
  if (value.empty() || value.size() > 4) return "expected an octal file mode such as 0660";
  std::uint32_t mode = 0;
  for (const char digit : value) {
    if (digit < '0' || digit > '7') return "expected an octal file mode such as 0660";
    mode = mode * 8 + static_cast<std::uint32_t>(digit - '0');
  }
  if (mode > 0777) return "expected an octal file mode such as 0660";
  field = mode;
  return {};
}

template <std::size_t Capacity>
std::string_view set_text(FixedString<Capacity>& field, std::string_view value) {
  return field.assign(value) ? std::string_view{} : "value too long";
}

struct Key {
  std::string_view name;
  Setter setter;
  bool repeatable = false;  // each line adds to what earlier ones gave (a UCI `list`)
};

// Sized by its initializers: a count written by hand left an empty key behind.
constexpr auto keys = std::to_array<Key>({
    {"host_name", set_host_name},
    {"listen_address", set_listen_address},
    {"smtp_port", [](RelayConfig& c, std::string_view v) { return set_port(c, Service::smtp, v); }},
    {"submission_port",
     [](RelayConfig& c, std::string_view v) { return set_port(c, Service::submission, v); }},
    {"submissions_port",
     [](RelayConfig& c, std::string_view v) { return set_port(c, Service::submissions, v); }},
    {"pop3_port", [](RelayConfig& c, std::string_view v) { return set_port(c, Service::pop3, v); }},
    {"pop3s_port", [](RelayConfig& c, std::string_view v) { return set_port(c, Service::pop3s, v); }},
    {"imap_port", [](RelayConfig& c, std::string_view v) { return set_port(c, Service::imap, v); }},
    {"imaps_port", [](RelayConfig& c, std::string_view v) { return set_port(c, Service::imaps, v); }},
    {"local_domains", add_local_domains, true},
    {"user", add_user_line, true},
    {"postmaster", [](RelayConfig& c, std::string_view v) { return set_text(c.postmaster, v); }},
    {"plaintext_login", add_plaintext_login, true},
    {"max_message_bytes",
     [](RelayConfig& c, std::string_view v) { return set_limited_u32(c.max_message_bytes, v, 1024, message_bytes_limit); }},
    {"max_recipients",
     [](RelayConfig& c, std::string_view v) { return set_limited_u32(c.max_recipients, v, 1, recipients_limit); }},
    {"command_timeout_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.command_timeout_s, v, 1, 86400); }},
    {"data_timeout_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.data_timeout_s, v, 1, 86400); }},
    {"data_time_limit_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.data_time_limit_s, v, 1, 86400); }},
    {"session_time_limit_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.session_time_limit_s, v, 1, 86400); }},
    {"spool_share_percent",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.spool_share_percent, v, 1, 100); }},
    {"pop3_timeout_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.pop3_timeout_s, v, 1, 86400); }},
    {"imap_timeout_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.imap_timeout_s, v, 1, 86400); }},
    {"handshake_timeout_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.handshake_timeout_s, v, 1, 3600); }},
    {"max_sessions_per_address",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.max_sessions_per_address, v, 0, 1024); }},
    {"auth_failure_delay_ms",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.auth_failure_delay_ms, v, 0, 60000); }},
    {"auth_failures_per_connection",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.login.failures_per_connection, v, 0, 1000); }},
    {"auth_address_free_failures",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.login.address_free_failures, v, 0, 1000); }},
    {"auth_address_delay_ms",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.login.address_delay_ms, v, 1, 3'600'000); }},
    {"auth_address_max_delay_ms",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.login.address_max_delay_ms, v, 1, 3'600'000); }},
    {"auth_address_forget_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.login.address_forget_s, v, 1, 7 * 86400); }},
    {"auth_cache_s", [](RelayConfig& c, std::string_view v) { return set_u32(c.login.cache_s, v, 0, 86400); }},
    {"spool_bytes",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.spool_bytes, v, 65536, max_u32); }},
    {"log_level", set_log_level},
    {"smarthost_host", [](RelayConfig& c, std::string_view v) { return set_text(c.smarthost.host, v); }},
    {"smarthost_port",
     [](RelayConfig& c, std::string_view v) {
       std::uint32_t port = 0;
       if (auto error = set_u32(port, v, 1, 65535); !error.empty()) return error;
       c.smarthost.port = static_cast<std::uint16_t>(port);
       return std::string_view{};
     }},
    {"smarthost_tls", set_smarthost_tls},
    {"smarthost_ca_file", [](RelayConfig& c, std::string_view v) { return set_text(c.smarthost.ca_file, v); }},
    {"smarthost_pin_sha256", set_smarthost_pin},
    {"smarthost_user", [](RelayConfig& c, std::string_view v) { return set_text(c.smarthost.user, v); }},
    {"smarthost_password", [](RelayConfig& c, std::string_view v) { return set_text(c.smarthost.password, v); }},
    {"tls_sessions",
     [](RelayConfig& c, std::string_view v) { return set_limited_u32(c.tls_sessions, v, 1, tls_sessions_limit); }},
    {"tls_ticket_lifetime_s",
     [](RelayConfig& c, std::string_view v) {
       return set_u32(c.tls_ticket_lifetime_s, v, 0, max_tls_ticket_lifetime_s);
     }},
    {"smarthost_connections",
     [](RelayConfig& c, std::string_view v) {
       return set_limited_u32(c.smarthost.connections, v, 1, smarthost_connections_limit);
     }},
    {"smarthost_timeout_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.smarthost.timeout_s, v, 1, 3600); }},
    {"relay_networks", add_relay_networks, true},
    {"retry_initial_s", [](RelayConfig& c, std::string_view v) { return set_u32(c.retry_initial_s, v, 1, 86400); }},
    {"retry_max_s", [](RelayConfig& c, std::string_view v) { return set_u32(c.retry_max_s, v, 1, 7 * 86400); }},
    {"max_queue_age_s",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.max_queue_age_s, v, 1, 60 * 86400); }},
    {"alert_from", [](RelayConfig& c, std::string_view v) { return set_text(c.alert_from, v); }},
    {"alert_window_s", [](RelayConfig& c, std::string_view v) { return set_u32(c.alert_window_s, v, 1, 86400); }},
    {"alert_max_per_window",
     [](RelayConfig& c, std::string_view v) { return set_u32(c.alert_max_per_window, v, 1, 10000); }},
    {"local_socket", [](RelayConfig& c, std::string_view v) { return set_text(c.local_socket, v); }},
    {"local_socket_mode", [](RelayConfig& c, std::string_view v) { return set_file_mode(c.local_socket_mode, v); }},
});

}  // namespace

std::string_view service_name(Service service) {
  return service_names[static_cast<std::size_t>(service)];
}

bool is_pop3(Service service) { return service == Service::pop3 || service == Service::pop3s; }

bool is_imap(Service service) { return service == Service::imap || service == Service::imaps; }

bool is_implicit_tls(Service service) {
  return service == Service::submissions || service == Service::pop3s || service == Service::imaps;
}

RelayConfig::RelayConfig() {
  host_name.assign("localhost");
  listen_address.bytes[0] = 127;
  listen_address.bytes[3] = 1;
}

bool RelayConfig::is_local_domain(std::string_view domain) const {
  if (text::iequals(domain, "localhost") || text::iequals(domain, host_name.view())) return true;
  for (std::size_t i = 0; i < local_domain_count; ++i) {
    if (text::iequals(domain, local_domains[i].view())) return true;
  }
  return false;
}

const UserEntry* RelayConfig::find_user(std::string_view name) const {
  for (std::size_t i = 0; i < user_count; ++i) {
    if (users[i].name.view() == name) return &users[i];
  }
  return nullptr;
}

bool NetworkPrefix::contains(const hal::IpAddress& candidate) const {
  if (candidate.is_v6 != address.is_v6) return false;
  for (std::uint32_t bit = 0; bit < length_bits; ++bit) {
    const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((candidate.bytes[bit / 8] & mask) != (address.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

bool RelayConfig::is_relay_network(const hal::IpAddress& client) const {
  for (std::size_t i = 0; i < relay_network_count; ++i) {
    if (relay_networks[i].contains(client)) return true;
  }
  return false;
}

bool RelayConfig::add_user(std::string_view name, std::string_view password_hash) {
  if (user_count == users.size()) return false;
  UserEntry& entry = users[user_count];
  if (!entry.name.assign(name) || !entry.password_hash.assign(password_hash)) return false;
  ++user_count;
  return true;
}

namespace {

// The line without its comment: from a '#' at its start or after a blank.
// Quotes are not looked at here: a quoted value's text is read from the line
// itself, and only what follows its closing quote is checked for a comment.
std::string_view without_comment(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || ascii::is_space(line[i - 1]))) return line.substr(0, i);
  }
  return line;
}

}  // namespace

void ConfigLine::unquote(std::string_view text) {
  quoted_ = true;
  std::array<char, max_quoted_value_bytes> bytes{};
  std::size_t length = 0;
  std::size_t at = 1;  // past the opening quote
  for (; at < text.size() && text[at] != '"'; ++at) {
    char c = text[at];
    if (c == '\\') {
      if (++at == text.size() || (text[at] != '"' && text[at] != '\\')) {
        error = "expected \\\" or \\\\ after a backslash in a quoted value";
        return;
      }
      c = text[at];
    }
    if (length == bytes.size()) {
      error = "quoted value too long";
      return;
    }
    bytes[length++] = c;
  }
  if (at == text.size()) {
    error = "quoted value without its closing quote";
    return;
  }
  if (!text::trim(without_comment(text.substr(at + 1))).empty()) {
    error = "text after the closing quote";
    return;
  }
  unquoted_.assign({bytes.data(), length});
}

std::optional<ConfigLine> split_config_line(std::string_view line) {
  const std::string_view content = text::trim(without_comment(line));
  if (content.empty()) return std::nullopt;
  const std::size_t equals = content.find('=');
  if (equals == std::string_view::npos) return ConfigLine{};
  ConfigLine entry(text::trim(content.substr(0, equals)), text::trim(content.substr(equals + 1)));
  // The quoted text is read from the whole line: a " #" inside the quotes is not a comment.
  const std::size_t value_start = line.find_first_not_of(" \t", static_cast<std::size_t>(content.data() - line.data()) + equals + 1);
  if (value_start != std::string_view::npos && line[value_start] == '"') entry.unquote(line.substr(value_start));
  return entry;
}

namespace {

const Key* find_key(std::string_view name) {
  for (const Key& known : keys) {
    if (known.name == name) return &known;
  }
  return nullptr;
}

}  // namespace

std::string_view apply_config_line(RelayConfig& config, std::string_view line) {
  const std::optional<ConfigLine> entry = split_config_line(line);
  if (!entry) return {};
  if (entry->key.empty()) return "expected key = value";
  if (!entry->error.empty()) return entry->error;
  const Key* key = find_key(entry->key);
  return key != nullptr ? key->setter(config, entry->value()) : "unknown key";
}

namespace {

// The first word of a statement, comments and blanks aside: a UCI command
// (none is a key of pigeon's) begins a UCI file, anything else a file of
// `key = value` lines.
std::optional<ConfigFormat> format_of_first_statement(std::string_view line) {
  const std::string_view content = text::trim(line);
  if (content.empty() || content.front() == '#') return std::nullopt;
  const std::size_t end = content.find_first_of(" \t");
  const std::string_view word = content.substr(0, end);
  const bool uci = word == "config" || word == "package" || word == "option" || word == "list";
  return uci ? ConfigFormat::uci : ConfigFormat::pigeon;
}

}  // namespace

std::string_view ConfigReader::apply(std::string_view line) {
  if (format_ == ConfigFormat::undecided) {
    const std::optional<ConfigFormat> format = format_of_first_statement(line);
    if (!format) return {};
    format_ = *format;
  }
  return format_ == ConfigFormat::uci ? apply_uci(line) : apply_config_line(config_, line);
}

std::string_view ConfigReader::apply_uci(std::string_view line) {
  const UciLine words(line);
  if (!words.error().empty()) return words.error();
  if (words.size() == 0) return {};
  const std::string_view command = words[0];
  if (command == "package") {
    return words.size() == 2 && words[1] == "pigeon" ? std::string_view{} : "expected: package pigeon";
  }
  if (command == "config") {
    if (words.size() < 2 || words.size() > 3) return "expected: config pigeon ['NAME']";
    section_ = words[1] == "pigeon" ? Section::pigeon : Section::foreign;
    return section_ == Section::pigeon ? std::string_view{} : "pigeon reads only 'config pigeon' sections";
  }
  if (command != "option" && command != "list") return "expected config, option or list";
  if (words.size() != 3) return command == "list" ? "expected: list KEY 'VALUE'" : "expected: option KEY 'VALUE'";
  switch (section_) {
    case Section::none: return "an option before the first 'config pigeon' line";
    case Section::foreign: return {};  // its section line was refused already
    case Section::pigeon: break;
  }
  const Key* key = find_key(words[1]);
  if (key == nullptr) return "unknown key";
  if (command == "list" && !key->repeatable) return "this key takes one value: write it as an option";
  return key->setter(config_, words[2]);
}

}  // namespace pigeon
