// The relay's run-time configuration: fixed-size, filled from defaults and then
// from `key = value` lines (docs/configuration.md). Reading the file is the
// board's job; parsing is here so that every board shares it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fixed_string.hpp"
#include "hal/log.hpp"
#include "hal/net.hpp"
// The board's limits first: every translation unit must see the same sizes.
#include "pigeon_limits.hpp"

namespace pigeon {

enum class Service : std::uint8_t { smtp, submission, submissions, pop3, pop3s, imap, imaps };
inline constexpr std::size_t service_count = 7;

std::string_view service_name(Service service);
bool is_pop3(Service service);
bool is_imap(Service service);
bool is_implicit_tls(Service service);

inline constexpr std::size_t max_domain_bytes = 255;
inline constexpr std::size_t max_user_name_bytes = 64;
inline constexpr std::size_t max_password_hash_bytes = 160;

// Defaults bounded by a compile-time limit follow it where the build's is lower
// (docs/configuration.md); a configured value above it is refused.
inline constexpr std::uint32_t default_max_message_bytes = std::min<std::uint32_t>(10u * 1024 * 1024, PIGEON_MAX_MESSAGE_BYTES);
inline constexpr std::uint32_t default_max_recipients = std::min<std::uint32_t>(100, PIGEON_MAX_RECIPIENTS);

struct UserEntry {
  FixedString<max_user_name_bytes> name;
  FixedString<max_password_hash_bytes> password_hash;
};

// How the relay reaches its smarthost (docs/architecture.md §1): STARTTLS on 587 or TLS
// from the first byte on 465; `none` only for a smarthost on a trusted link.
enum class SmarthostTls : std::uint8_t { starttls, implicit, none };

// An address block such as 192.168.0.0/16 or fd00::/8.
struct NetworkPrefix {
  hal::IpAddress address;
  std::uint8_t length_bits = 0;
  bool contains(const hal::IpAddress& candidate) const;
};

struct SmarthostConfig {
  FixedString<max_domain_bytes> host;  // empty: nothing is relayed onward
  std::uint16_t port = 587;
  SmarthostTls tls = SmarthostTls::starttls;
  FixedString<255> ca_file;            // PEM bundle the chain must lead to
  std::array<std::uint8_t, 32> pin_sha256{};  // SHA-256 of the server's public key
  bool pinned = false;
  FixedString<255> user;               // AUTH when not empty
  FixedString<255> password;
  std::uint32_t connections = 1;       // concurrent connections to the smarthost
  std::uint32_t timeout_s = 0;         // every wait on the smarthost; 0: RFC 5321 §4.5.3.2 per step
};

// What slows down password guessing (docs/security.md): the per-connection
// limit, the per-address failure budget with its doubling delay, and how long a
// verified credential spares the next login its derivation.
struct LoginLimits {
  std::uint32_t failures_per_connection = 3;  // then 421 / -ERR and close; 0: no limit
  std::uint32_t address_free_failures = 5;    // failures an address has before its checks wait
  std::uint32_t address_delay_ms = 1000;      // the first wait, doubling per further failure
  std::uint32_t address_max_delay_ms = 60000;
  std::uint32_t address_forget_s = 900;       // an address quiet this long starts afresh
  std::uint32_t cache_s = 3600;               // a verified credential skips PBKDF2 this long; 0: never
};

struct RelayConfig {
  RelayConfig();

  FixedString<max_domain_bytes> host_name;
  hal::IpAddress listen_address;
  std::array<std::uint16_t, service_count> ports{2525, 2587, 2465, 2110, 2995, 2143, 2993};
  std::array<FixedString<max_domain_bytes>, PIGEON_MAX_LOCAL_DOMAINS> local_domains;
  std::size_t local_domain_count = 0;
  std::array<UserEntry, PIGEON_MAX_USERS> users;
  std::size_t user_count = 0;
  // The user who gets mail for postmaster (RFC 5321 §4.5.1); empty: the first user.
  FixedString<max_user_name_bytes> postmaster;
  std::array<bool, service_count> plaintext_login{};
  std::uint32_t max_message_bytes = default_max_message_bytes;
  std::uint32_t max_recipients = default_max_recipients;
  std::uint32_t command_timeout_s = 300;
  std::uint32_t data_timeout_s = 180;
  // However busy the client keeps them, one DATA phase and one SMTP session
  // end after these (421 4.4.2): a client that drips bytes is never idle.
  std::uint32_t data_time_limit_s = 600;
  std::uint32_t session_time_limit_s = 1800;
  // The most of the spool one open message may take (Spool::set_writer_share_percent).
  std::uint32_t spool_share_percent = 50;
  std::uint32_t pop3_timeout_s = 600;
  // IMAP's autologout after login: RFC 9051 §5.4 asks for at least 30 minutes.
  std::uint32_t imap_timeout_s = 1800;
  // From connect (or STARTTLS/STLS) to the end of the TLS handshake and the
  // first command: bare connections give their slot back soon.
  std::uint32_t handshake_timeout_s = 20;
  // Sessions one client address (an IPv4 address, an IPv6 /64) may hold of
  // each protocol; 0: half the build's slots of that protocol, at least one.
  std::uint32_t max_sessions_per_address = 0;
  std::uint32_t auth_failure_delay_ms = 1000;  // counted from the login command's arrival
  LoginLimits login;
  std::uint32_t spool_bytes = PIGEON_DEFAULT_SPOOL_BYTES;
  // Concurrent server-side TLS sessions (465, 995, STARTTLS, STLS); the TLS
  // arena handed to Mbed TLS is sized for them (docs/architecture.md §4).
  std::uint32_t tls_sessions = PIGEON_TLS_SESSIONS;
  // How long a server-side session ticket resumes a TLS session, and how often
  // its key is replaced (TlsServer::enable_tickets); 0: no tickets.
  std::uint32_t tls_ticket_lifetime_s = 7200;
  hal::LogLevel log_level = hal::LogLevel::info;

  SmarthostConfig smarthost;
  // Clients in these networks may relay without AUTH (docs/architecture.md §7).
  std::array<NetworkPrefix, PIGEON_MAX_RELAY_NETWORKS> relay_networks{};
  std::size_t relay_network_count = 0;
  std::uint32_t retry_initial_s = 60;        // first retry of a temporary failure
  std::uint32_t retry_max_s = 3600;          // the backoff doubles up to this
  std::uint32_t max_queue_age_s = 5 * 86400; // then the sender gets a DSN
  FixedString<254> alert_from;               // empty: "pigeon@" host_name
  std::uint32_t alert_window_s = 300;        // same-key alerts coalesce within it
  std::uint32_t alert_max_per_window = 10;   // alert messages per window, all keys
  // The host's local socket (docs/routers.md): empty for <state>/pigeon.sock.
  // 107 bytes is what a Unix-domain socket address holds on Linux.
  FixedString<107> local_socket;
  std::uint32_t local_socket_mode = 0666;    // who may submit, list and flush

  std::uint16_t port(Service service) const { return ports[static_cast<std::size_t>(service)]; }
  bool allows_plaintext_login(Service service) const {
    return plaintext_login[static_cast<std::size_t>(service)];
  }
  // localhost, host_name and every configured local domain (case-insensitive).
  bool is_local_domain(std::string_view domain) const;
  const UserEntry* find_user(std::string_view name) const;
  bool is_relay_network(const hal::IpAddress& client) const;
  bool add_user(std::string_view name, std::string_view password_hash);
};

// Room for a quoted value once its escapes are undone: the longest text value
// (a smarthost password, a file path) is 255 bytes.
inline constexpr std::size_t max_quoted_value_bytes = 255;

// One line of a configuration file split at its '=', comment and blanks trimmed
// (docs/configuration.md): a '#' starts a comment at the start of the line or
// after a blank, so `password = ab#cd` keeps its '#'. A value in double quotes
// is taken as written between them, with \" for a quote and \\ for a backslash.
// Boards use it for keys of their own (a network interface's address).
class ConfigLine {
 public:
  ConfigLine() = default;
  ConfigLine(std::string_view line_key, std::string_view plain_value) : key(line_key), plain_(plain_value) {}

  std::string_view key;    // empty when the line has no '='
  std::string_view error;  // why a quoted value is malformed; empty when the line is well-formed

  std::string_view value() const { return quoted_ ? unquoted_.view() : plain_; }
  // Reads a quoted value: `text` starts at the opening quote.
  void unquote(std::string_view text);

 private:
  std::string_view plain_;
  FixedString<max_quoted_value_bytes> unquoted_;
  bool quoted_ = false;
};

// nullopt for a blank or comment-only line.
std::optional<ConfigLine> split_config_line(std::string_view line);

// Applies one line of a configuration file. Returns an empty view on success, or
// the reason the line was refused (for an error that names the line). A value
// above a compile-time limit is refused with a reason naming the key, the value
// and the limit; that text lives until the next call (start-up is single-threaded).
std::string_view apply_config_line(RelayConfig& config, std::string_view line);

// The two formats of a configuration file: pigeon's `key = value` lines, and
// OpenWrt's UCI (/etc/config/pigeon: `config pigeon 'main'`, then `option KEY
// 'VALUE'` and `list KEY 'VALUE'` with the same keys; docs/routers.md).
enum class ConfigFormat : std::uint8_t { undecided, pigeon, uci };

// Reads a configuration file a line at a time, in either format: the first
// line that is not blank or a comment decides (`config`, `package`, `option`
// or `list` begins a UCI file). Each call returns what apply_config_line() does for that line.
class ConfigReader {
 public:
  explicit ConfigReader(RelayConfig& config) : config_(config) {}

  std::string_view apply(std::string_view line);
  ConfigFormat format() const { return format_; }

 private:
  // The UCI section the lines are in: options count only in `config pigeon`.
  enum class Section : std::uint8_t { none, pigeon, foreign };

  std::string_view apply_uci(std::string_view line);

  RelayConfig& config_;
  ConfigFormat format_ = ConfigFormat::undecided;
  Section section_ = Section::none;
};

}  // namespace pigeon
