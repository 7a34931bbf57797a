// pigeon on a Linux host: the POSIX shim wired into the relay. Start-up reads the
// configuration and the state folder; after `ready` the loop runs without heap.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>

#include "firmware/alert_endpoint.hpp"
#include "firmware/alert_spool_store.hpp"
#include "firmware/crypto_random.hpp"
#include "firmware/delivery_scheduler.hpp"
#include "firmware/ip_address.hpp"
#include "firmware/password_hash.hpp"
#include "firmware/provisioning.hpp"
#include "firmware/relay.hpp"
#include "firmware/server_identity.hpp"
#include "firmware/tls_arena.hpp"
#include "hal/posix/file_flash.hpp"
#include "hal/posix/posix_clock.hpp"
#include "hal/posix/posix_entropy.hpp"
#include "hal/posix/posix_net.hpp"
#include "hal/posix/stderr_log.hpp"
#include "hal/posix/zero_pages.hpp"
#include "config_file.hpp"
#include "host_resolver.hpp"
#include "local_socket.hpp"
#include "sendmail.hpp"
#include "state_folder.hpp"
#include "status.hpp"

// The allocation guard of the integration tests defines this; elsewhere it is
// absent and the call is skipped. It marks the end of start-up.
extern "C" [[gnu::weak]] void pigeon_startup_complete(void);
// The executable's .bss, as the linker lays it out (GNU ld and lld define both).
extern "C" char __bss_start[], _end[];

namespace pigeon::host {
namespace {

constexpr hal::FlashGeometry flash_sector_geometry{64 * 1024, 0, 16};

volatile sig_atomic_t stop_requested = 0;
void request_stop(int) { stop_requested = 1; }

struct Options {
  const char* state_path = "var";
  const char* config_path = nullptr;
  const char* alert_port = std::getenv("PIGEON_ALERT_PORT");  // the alert endpoint: off unless given
  bool hash_password = false;
};

int usage() {
  std::fprintf(stderr,
               "usage: pigeon [--state DIR] [--config FILE] [--alert-port PORT]\n"
               "       pigeon hash-password   (reads a password on stdin)\n"
               "       pigeon sendmail [-t] [-i] [-f SENDER] [-C FILE] [RECIPIENT...]   (a message on stdin)\n"
               "       pigeon queue [-C FILE]   (the relay's queue; also as mailq)\n"
               "       pigeon flush [-C FILE]   (retry every waiting message now)\n"
               "       pigeon status [-C FILE] [--state DIR]   (listeners, queue, spool, certificate)\n");
  return 2;
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "hash-password") {
      options.hash_password = true;
    } else if (arg == "--state" && i + 1 < argc) {
      options.state_path = argv[++i];
    } else if (arg == "--config" && i + 1 < argc) {
      options.config_path = argv[++i];
    } else if (arg == "--alert-port" && i + 1 < argc) {
      options.alert_port = argv[++i];
    } else {
      return false;
    }
  }
  return true;
}

int run_hash_password(CryptoRandom& random) {
  char password[256];
  if (std::fgets(password, sizeof password, stdin) == nullptr) return usage();
  std::string_view text = password;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::array<char, max_password_hash_bytes> hash{};
  const auto length = make_password_hash(random, text, hash);
  if (!length) return 1;
  std::printf("%.*s\n", static_cast<int>(*length), hash.data());
  return 0;
}

}  // namespace
}  // namespace pigeon::host

namespace pigeon::host {
namespace {

// Exit statuses of a failed start: the machine (files, ports, entropy), or the
// operator's configuration.
constexpr int start_failed = 1;
constexpr int misconfigured = 2;

// The default user's password: made once, kept in <state>/credentials (0600),
// printed at every start so that a newcomer can log in at once.
std::optional<std::string_view> default_password(const StateFolder& state, CryptoRandom& random,
                                                  std::span<char> storage) {
  std::array<char, 256> saved{};
  const auto length = state.read("credentials", saved);
  const std::string_view prefix = "user:";
  std::string_view line = length ? std::string_view(saved.data(), *length) : std::string_view{};
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with(prefix) && line.size() > prefix.size() && line.size() - prefix.size() <= storage.size()) {
    line.remove_prefix(prefix.size());
    std::memcpy(storage.data(), line.data(), line.size());
    return std::string_view(storage.data(), line.size());
  }
  const std::string_view password(storage.data(), generate_password(random, storage.first(20)));
  char content[200];
  const int used = std::snprintf(content, sizeof content, "%.*s:%.*s\n", static_cast<int>(default_user_name.size()),
                                 default_user_name.data(), static_cast<int>(password.size()), password.data());
  if (!state.write("credentials", {content, static_cast<std::size_t>(used)}, 0600)) return std::nullopt;
  return password;
}

// The server's key and certificate: made on first start, as a router does on
// its first boot, then loaded from the state folder.
// `fingerprint` receives the certificate's SHA-256.
bool load_identity(const StateFolder& state, CryptoRandom& random, hal::Clock& clock,
                   const RelayConfig& config, TlsServer& tls, std::span<char, fingerprint_chars> fingerprint) {
  static std::array<char, 4096> key_pem{};
  static std::array<char, 4096> cert_pem{};
  auto key_length = state.read("key.pem", key_pem);
  auto cert_length = state.read("cert.pem", cert_pem);
  if (!key_length || !cert_length) {
    ServerIdentityPem identity{key_pem, cert_pem};
    if (!generate_server_identity(random, config.host_name.view(), clock.unix_time_s(), identity)) {
      std::fprintf(stderr, "pigeon: cannot generate the server certificate\n");
      return false;
    }
    key_length = identity.key_length;
    cert_length = identity.cert_length;
    if (!state.write("key.pem", {key_pem.data(), *key_length}, 0600) ||
        !state.write("cert.pem", {cert_pem.data(), *cert_length}, 0644)) {
      std::fprintf(stderr, "pigeon: cannot write the certificate to %s\n", state.path());
      return false;
    }
  }
  if (!tls.load_identity({key_pem.data(), *key_length}, {cert_pem.data(), *cert_length}) ||
      !certificate_fingerprint({cert_pem.data(), *cert_length}, fingerprint)) {
    std::fprintf(stderr, "pigeon: %s/key.pem and cert.pem do not load or do not match\n", state.path());
    return false;
  }
  return true;
}

hal::PosixClock* wall_clock = nullptr;
std::int64_t wall_clock_s() { return wall_clock->unix_time_s(); }

// The alert API for C callers, and on loopback for tools/pigeon-alert.
bool start_alert_endpoint(const Options& options, AlertEndpoint& endpoint) {
  if (options.alert_port == nullptr) return true;
  const int port = std::atoi(options.alert_port);
  if (port < 0 || port > 65535 || endpoint.start(static_cast<std::uint16_t>(port)) != hal::NetStatus::ok) {
    std::fprintf(stderr, "pigeon: cannot listen for alerts on 127.0.0.1:%s\n", options.alert_port);
    return false;
  }
  std::printf("pigeon: alerts listening on 127.0.0.1:%u\n", endpoint.port());
  return true;
}

// Every service, the alert endpoint's TCP port and the local socket listen at once.
static_assert(hal::PosixNet::max_listeners >= service_count + 2, "the host's listeners need a slot each");

const char* listen_failure(hal::NetStatus status) {
  if (status == hal::NetStatus::address_in_use) return "another relay answers there";
  if (status == hal::NetStatus::no_resources) return "no listener slot free";
  return std::strerror(errno);
}

// The local socket (boards/host/local_socket.hpp), served by the alert endpoint.
bool start_local_socket(const RelayConfig& config, const StateFolder& state, hal::PosixNet& net,
                        AlertEndpoint& endpoint, LocalCommands& commands, std::span<char> path_storage) {
  const char* path = local_socket_path(config, state.path(), path_storage);
  hal::ListenerId listener = hal::invalid_id;
  const hal::NetStatus status = path == nullptr ? hal::NetStatus::error
                                                : net.listen_local(path, config.local_socket_mode, listener);
  if (status != hal::NetStatus::ok) {
    std::fprintf(stderr, "pigeon: cannot make the local socket %s: %s\n", path != nullptr ? path : "(too long)",
                 listen_failure(status));
    return false;
  }
  endpoint.serve_local(listener, commands);
  std::printf("pigeon: local socket listening on %s (mode %04o)\n", path, config.local_socket_mode);
  return true;
}

void print_listeners(const Relay& relay, const RelayConfig& config) {
  std::array<char, 48> endpoint{};
  for (std::size_t i = 0; i < service_count; ++i) {
    const auto service = static_cast<Service>(i);
    if (!relay.offers(service)) continue;
    const std::string_view text = format_endpoint(config.listen_address, relay.bound_port(service), endpoint);
    std::printf("pigeon: %.*s listening on %.*s\n", static_cast<int>(service_name(service).size()),
                service_name(service).data(), static_cast<int>(text.size()), text.data());
  }
}

const char* net_status_text(hal::NetStatus status) {
  switch (status) {
    case hal::NetStatus::address_in_use: return "address already in use";
    case hal::NetStatus::no_resources: return "out of resources";
    default: return "cannot bind";
  }
}

// PIGEON_FLASH_CUT_AFTER=N cuts the power at the flash operation after the
// Nth (docs/testing.md): the relay exits with this status, as if the board
// lost power, without another write or sync.
constexpr int power_cut_exit_status = 86;

[[noreturn]] void exit_on_power_cut() {
  static constexpr char note[] = "pigeon: flash power cut (PIGEON_FLASH_CUT_AFTER)\n";
  (void)::write(STDERR_FILENO, note, sizeof note - 1);
  ::_exit(power_cut_exit_status);
}

// A decimal environment variable; `fallback` when unset, false when malformed.
bool env_number(const char* name, std::uint64_t fallback, std::uint64_t& value) {
  const char* text = std::getenv(name);
  value = fallback;
  if (text == nullptr) return true;
  char* end = nullptr;
  errno = 0;
  value = std::strtoull(text, &end, 10);
  return errno == 0 && end != text && *end == '\0' && text[0] != '-';
}

// Arms the fault injection the environment asks for, counted from here, so
// the spool's recovery at mount counts too.
bool arm_flash_faults(hal::FileFlash& flash) {
  std::uint64_t cut_after = 0, tear = 0, seed = 0;
  if (!env_number("PIGEON_FLASH_CUT_AFTER", 0, cut_after) || !env_number("PIGEON_FLASH_TEAR", 0, tear) ||
      !env_number("PIGEON_FLASH_SEED", 1, seed) || tear > 1 || seed > UINT32_MAX) {
    std::fprintf(stderr, "pigeon: PIGEON_FLASH_CUT_AFTER, _TEAR (0 or 1) and _SEED must be numbers\n");
    return false;
  }
  if (std::getenv("PIGEON_FLASH_CUT_AFTER") == nullptr) return true;
  flash.cut_power_after(cut_after, tear == 1, static_cast<std::uint32_t>(seed), exit_on_power_cut);
  std::fprintf(stderr, "pigeon: the flash loses power after %llu operations%s\n",
               static_cast<unsigned long long>(cut_after), tear == 1 ? ", torn" : "");
  return true;
}

// The POSIX shim the relay runs on.
struct Platform {
  explicit Platform(const RelayConfig& config) : log(clock, config.log_level) {}
  hal::PosixClock clock;
  hal::PosixEntropy entropy;
  hal::StderrLog log;
  hal::PosixNet net;
  hal::FileFlash flash;
};

// The users, the postmaster and the server identity; `made_password` is set
// when the default user was made.
int provision(const StateFolder& state, hal::Clock& clock, CryptoRandom& random, RelayConfig& config,
              TlsServer& tls, std::span<char> password_storage, std::optional<std::string_view>& made_password,
              std::span<char, fingerprint_chars> fingerprint) {
  if (config.user_count == 0) {
    made_password = default_password(state, random, password_storage);
    if (!made_password || !add_default_user(random, *made_password, config)) {
      std::fprintf(stderr, "pigeon: cannot set up the default user in %s\n", state.path());
      return start_failed;
    }
  }
  if (!config.postmaster.empty() && config.find_user(config.postmaster.view()) == nullptr) {
    std::fprintf(stderr, "pigeon: postmaster '%.*s' is not a configured user\n",
                 static_cast<int>(config.postmaster.view().size()), config.postmaster.view().data());
    return misconfigured;
  }
  return load_identity(state, random, clock, config, tls, fingerprint) ? 0 : start_failed;
}

// Why the spool image did not open. An image of another size than the
// configuration's is the usual reason (spool_bytes changed after the first
// start): the operator chooses between its mail and the new size.
int report_spool_open_failure(const char* path, std::uint64_t configured_bytes) {
  struct stat image{};
  if (::stat(path, &image) == 0 && static_cast<std::uint64_t>(image.st_size) != configured_bytes) {
    std::fprintf(stderr,
                 "pigeon: the spool image %s is %lld bytes, spool_bytes makes it %llu: set spool_bytes = %lld to keep "
                 "the mail in it, or move it away to start an empty spool of the new size\n",
                 path, static_cast<long long>(image.st_size), static_cast<unsigned long long>(configured_bytes),
                 static_cast<long long>(image.st_size));
    return misconfigured;
  }
  std::fprintf(stderr, "pigeon: cannot open the spool image %s\n", path);
  return start_failed;
}

// The spool image in the state folder, sized by spool_bytes, mounted; a new
// one takes a UIDVALIDITY from the clock, else from `random`.
int mount_spool(const StateFolder& state, const RelayConfig& config, Platform& platform, CryptoRandom& random,
                Spool& spool) {
  hal::FileFlash& flash = platform.flash;
  char spool_path[4096];
  hal::FlashGeometry geometry = flash_sector_geometry;
  geometry.sector_count = config.spool_bytes / geometry.sector_size_bytes;
  if (!flash.open(state.file_path("spool.img", spool_path), geometry)) {
    return report_spool_open_failure(spool_path, geometry.total_bytes());
  }
  if (!arm_flash_faults(flash)) return misconfigured;
  std::uint32_t random_bits = 0;
  random.fill({reinterpret_cast<std::uint8_t*>(&random_bits), sizeof random_bits});
  if (spool.mount(spool_format::uid_validity_at_format(platform.clock.unix_time_s(), random_bits)) != SpoolStatus::ok) {
    std::fprintf(stderr, "pigeon: cannot mount the spool in %s\n", spool_path);
    return start_failed;
  }
  return 0;
}

int start_listeners(Relay& relay, const RelayConfig& config) {
  Service failed = Service::smtp;
  if (const hal::NetStatus status = relay.start(failed); status != hal::NetStatus::ok) {
    std::fprintf(stderr, "pigeon: cannot listen on port %u (%.*s): %s\n", config.port(failed),
                 static_cast<int>(service_name(failed).size()), service_name(failed).data(),
                 net_status_text(status));
    return start_failed;
  }
  return 0;
}

// Start-up clears more static memory than an idle relay uses: Mbed TLS clears
// the arena of every configured TLS session, constructors clear the spool
// index and every session slot. The pages that still hold only zeros go back
// to the kernel, so that idle memory is what the relay holds, and a slot costs
// memory once it is used (docs/architecture.md §4). Before the signal handlers:
// nothing else writes to the .bss meanwhile.
void release_idle_static_memory(hal::Log& log) {
  const std::span<char> static_memory(__bss_start, _end);
  const std::size_t zero_bytes = hal::release_zero_pages(std::as_writable_bytes(static_memory));
  log.write(hal::LogLevel::info, "start-up: %zu of %zu KiB of static memory hold only zeros, not kept resident",
            zero_bytes / 1024, static_memory.size() / 1024);
}

void announce_ready(const StateFolder& state, const RelayConfig& config, const Relay& relay,
                    std::optional<std::string_view> made_password, std::string_view fingerprint) {
  std::array<char, 1024> certificate{};
  const std::size_t length = write_certificate_lines("pigeon: ", fingerprint, state.path(), config.host_name.view(),
                                                     relay.bound_port(Service::submissions), certificate);
  std::fwrite(certificate.data(), 1, length, stdout);
  if (made_password) {
    std::printf("pigeon: user '%.*s' password '%.*s' (saved in %s/credentials)\n",
                static_cast<int>(default_user_name.size()), default_user_name.data(),
                static_cast<int>(made_password->size()), made_password->data(), state.path());
  }
  // Certificate checks of the smarthost read the wall clock through gmtime_r,
  // whose first call makes glibc load the time zone onto the heap: do it now.
  tzset();
  // Before "ready": a supervisor that stops the relay as soon as it is ready
  // must find the handler that ends the loop (and removes the local socket).
  signal(SIGINT, request_stop);
  signal(SIGTERM, request_stop);
  signal(SIGPIPE, SIG_IGN);
  std::printf("pigeon: ready\n");
  std::fflush(stdout);
  if (pigeon_startup_complete != nullptr) pigeon_startup_complete();
}

void serve_until_stopped(Platform& platform, Relay& relay, Alerts& alerts, AlertEndpoint& alert_endpoint) {
  while (stop_requested == 0) {
    // Alerts first: one stored now goes out to the smarthost in this round.
    alert_endpoint.poll();
    alerts.poll(platform.clock.unix_time_s());
    const std::uint32_t idle_ms = relay.poll(platform.clock.monotonic_ms());
    platform.net.wait(idle_ms);
  }
  relay.shut_down();
}

void log_usage(hal::Log& log, const SmarthostTlsClient& smarthost_tls) {
  const TlsArenaUsage arena = tls_arena_usage();
  log.write(hal::LogLevel::info, "stopped; TLS arena high-water %zu of %zu bytes", arena.high_water_bytes,
            arena.capacity_bytes);
  log.write(hal::LogLevel::info, "smarthost TLS handshakes %u, of which resumed %u",
            smarthost_tls.counters().handshakes, smarthost_tls.counters().resumed);
}

int run_relay(const Options& options) {
  static RelayConfig config;
  if (options.config_path != nullptr) {
    const ConfigFileResult file = read_config_file(options.config_path, config, "pigeon");
    if (!file.readable || file.refused_lines > 0) return misconfigured;
  }
  StateFolder state;
  if (!state.open(options.state_path)) {
    std::fprintf(stderr, "pigeon: cannot create state folder %s: %s\n", options.state_path,
                 std::strerror(errno));
    return start_failed;
  }
  static Platform platform(config);
  tls_arena_init(config.tls_sessions);
  static CryptoRandom random(platform.entropy);
  if (!random.ready()) {
    std::fprintf(stderr, "pigeon: no entropy source\n");
    return start_failed;
  }

  static TlsServer tls(random, config.tls_sessions);
  std::array<char, 128> password_storage{};
  std::optional<std::string_view> made_password;
  static std::array<char, fingerprint_chars> fingerprint{};
  if (int status = provision(state, platform.clock, random, config, tls, password_storage, made_password, fingerprint)) {
    return status;
  }
  if (!tls.enable_tickets(config.tls_ticket_lifetime_s)) {
    std::fprintf(stderr, "pigeon: no room in the TLS arena for the session ticket keys\n");
    return start_failed;
  }
  static Accounts accounts(config);
  static Spool spool(platform.flash, accounts);
  if (int status = mount_spool(state, config, platform, random, spool)) return status;

  static LoginService logins(config, accounts);
  if (!logins.start(random)) {
    std::fprintf(stderr, "pigeon: no entropy source\n");
    return start_failed;
  }
  static RelayServices services{config, platform.net, platform.clock, platform.log, spool, tls, accounts, logins};
  static SmarthostTlsClient smarthost_tls(random);
  if (const std::string_view error = set_up_smarthost_tls(config.smarthost, nullptr, smarthost_tls); !error.empty()) {
    std::fprintf(stderr, "pigeon: %.*s\n", static_cast<int>(error.size()), error.data());
    return misconfigured;
  }
  HostResolver* resolver = host_resolver(platform.clock, platform.entropy);
  if (resolver == nullptr) {
    std::fprintf(stderr, "pigeon: PIGEON_DNS_PORT must be a port number\n");
    return misconfigured;
  }
  static DeliveryScheduler scheduler(services, smarthost_tls, *resolver);
  static Relay relay(services, &scheduler);
  if (int status = start_listeners(relay, config)) return status;

  static SpoolAlertStore alert_store(services);
  static Alerts alerts({config.alert_window_s, config.alert_max_per_window}, alert_store);
  wall_clock = &platform.clock;
  bind_c_alert_api(&alerts, wall_clock_s);
  static AlertEndpoint alert_endpoint(platform.net, platform.clock, platform.log, alerts);

  static std::array<char, 256> local_socket{};
  static const RelayFacts facts{config, state.path(), local_socket.data(), {fingerprint.data(), fingerprint.size()},
                                platform.clock.unix_time_s()};
  static RelayLocalCommands local_commands(relay, scheduler, spool, platform.clock, facts);

  print_listeners(relay, config);
  if (!start_alert_endpoint(options, alert_endpoint)) return start_failed;
  if (!start_local_socket(config, state, platform.net, alert_endpoint, local_commands, local_socket)) {
    return start_failed;
  }
  release_idle_static_memory(platform.log);
  announce_ready(state, config, relay, made_password, {fingerprint.data(), fingerprint.size()});
  serve_until_stopped(platform, relay, alerts, alert_endpoint);
  ::unlink(local_socket.data());
  log_usage(platform.log, smarthost_tls);
  return 0;
}

}  // namespace
}  // namespace pigeon::host

int main(int argc, char** argv) {
  using namespace pigeon::host;
  if (called_as_sendmail(argc, argv)) return run_sendmail(argc, argv);
  if (called_as_mailq(argc, argv)) return run_queue_command(argc, argv);
  if (called_as_status(argc, argv)) return run_status_command(argc, argv);
  Options options;
  if (!parse_options(argc, argv, options)) return usage();
  if (options.hash_password) {
    static pigeon::hal::PosixEntropy entropy;
    pigeon::tls_arena_init();
    static pigeon::CryptoRandom random(entropy);
    return run_hash_password(random);
  }
  return run_relay(options);
}
