// pigeon on mps2-an385: the relay over lwIP and the LAN9118, the spool in the
// PSRAM that stands in for NOR flash, the console on UART0. QEMU's user-mode
// network leases the guest 10.0.2.15 by DHCP and forwards host ports to the
// listeners.
//
// PSRAM layout (0x21000000, saved and restored by tools/qemu-board):
//   [0, 16 KiB)             board record, two 8 KiB sectors (board_record.hpp)
//   [16 KiB, 528 KiB)       the spool, 64 sectors of 8 KiB
//   [528 KiB, +32 bytes)    the factory seed, written once when the image is made
//   [532 KiB, +4 KiB)       provisioning: configuration lines (docs/configuration.md,
//                           and the network_ keys of board_network.hpp)
//   [536 KiB, +4 KiB)       provisioning: the smarthost's CA certificates (PEM)
// The provisioning areas are NUL-terminated text that the board only reads;
// tools/qemu-board writes them into the image, as a factory would.
#include <lwip/ip4_addr.h>
#include <lwip/init.h>
#include <lwip/timeouts.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstddef>
#include <cstring>
#include <new>
#include <optional>

#include "board_counters.hpp"
#include "board_entropy.hpp"
#include "board_network.hpp"
#include "board_record.hpp"
#include "firmware/crypto_random.hpp"
#include "firmware/delivery_scheduler.hpp"
#include "firmware/password_hash.hpp"
#include "firmware/provisioning.hpp"
#include "firmware/relay.hpp"
#include "firmware/server_identity.hpp"
#include "firmware/tls_arena.hpp"
#include "hal/memory/memory_flash.hpp"
#include "hal/text_format.hpp"
#include "lan9118.hpp"
#include "protocol/assert.hpp"
#include "systick_clock.hpp"
#include "uart.hpp"
#include "uart_log.hpp"

extern "C" std::uint32_t __stack_bottom, __stack_top;  // board.ld

namespace pigeon::board {
namespace {

constexpr std::uintptr_t psram_base = 0x21000000;
constexpr hal::FlashGeometry record_geometry{8 * 1024, 2, 16};
constexpr hal::FlashGeometry spool_geometry{8 * 1024, 64, 16};
constexpr std::uint32_t spool_offset = record_geometry.total_bytes();
constexpr std::uint32_t factory_seed_offset = spool_offset + spool_geometry.total_bytes();
constexpr std::size_t factory_seed_bytes = 32;
constexpr std::uint32_t config_text_offset = factory_seed_offset + 4 * 1024;
constexpr std::uint32_t smarthost_ca_offset = config_text_offset + 4 * 1024;
constexpr std::uint32_t provisioning_area_bytes = 4 * 1024;
// QEMU's DHCP server answers at once; a LAN's may take a few retries.
constexpr std::uint32_t dhcp_timeout_ms = 30'000;
// PBKDF2 on a 25 MHz Cortex-M3: fewer rounds than the host's, or every login
// would cost seconds.
constexpr std::uint32_t password_hash_iterations = 2048;
constexpr std::size_t password_characters = 16;

// lwIP's DNS query ids and source ports come from the relay's DRBG once it runs.
CryptoRandom* lwip_random_source = nullptr;

// A board object built on first use and never destroyed. The board stops only by
// a reset; a static with a destructor would register it with atexit(), which
// links newlib's exit machinery (flash, and a table in RAM) for code that never runs.
template <typename T, typename... Args>
T& build_forever(Args&... args) {
  alignas(T) static std::byte storage[sizeof(T)];
  static bool built = false;
  PIGEON_ASSERT(!built);  // one object of each type
  built = true;
  return *::new (static_cast<void*>(storage)) T(args...);
}

std::span<std::uint8_t> psram(std::uint32_t offset, std::uint32_t bytes) {
  return {reinterpret_cast<std::uint8_t*>(psram_base + offset), bytes};
}

void say(const char* format, ...) {
  char line[200];
  std::va_list args;
  va_start(args, format);
  const int length = hal::format_text(line, sizeof line, format, args);
  va_end(args);
  uart_write({line, static_cast<std::size_t>(length) < sizeof line ? static_cast<std::size_t>(length) : sizeof line - 1});
}

bool stop(std::string_view reason) {
  say("pigeon: %.*s\n", static_cast<int>(reason.size()), reason.data());
  return false;
}

// A blank image (QEMU zero-fills PSRAM) holds no record: erase everything to the
// flash's blank state first, as a factory would.
void erase_blank_image(hal::Flash& records, hal::Flash& spool) {
  for (std::uint32_t s = 0; s < record_geometry.sector_count; ++s) records.erase(s);
  for (std::uint32_t s = 0; s < spool_geometry.sector_count; ++s) spool.erase(s);
}

bool seed_entropy(BoardEntropy& entropy, const BoardRecord& record, bool have_record) {
  const auto factory_seed = psram(factory_seed_offset, factory_seed_bytes);
  const bool provisioned = std::any_of(factory_seed.begin(), factory_seed.end(), [](std::uint8_t b) { return b != 0; });
  if (!provisioned) say("pigeon: warning: no factory seed in the image; entropy is timer jitter only\n");
  entropy.add_seed(factory_seed);
  if (have_record) entropy.add_seed(record.boot_seed);
  return provisioned || have_record;
}

static_assert(sizeof(BoardRecord::key_pem) < PIGEON_TLS_IDENTITY_PEM_BYTES &&
                  sizeof(BoardRecord::cert_pem) < PIGEON_TLS_IDENTITY_PEM_BYTES,
              "TlsServer::load_identity copies the PEM with its NUL");

bool make_identity(CryptoRandom& random, hal::Clock& clock, const RelayConfig& config, BoardRecord& record) {
  ServerIdentityPem identity{record.key_pem, record.cert_pem};
  if (!generate_server_identity(random, config.host_name.view(), clock.unix_time_s(), identity)) return false;
  record.key_length = static_cast<std::uint16_t>(identity.key_length);
  record.cert_length = static_cast<std::uint16_t>(identity.cert_length);
  record.password_length =
      static_cast<std::uint16_t>(generate_password(random, {record.password.data(), password_characters}));
  return record.password_length == password_characters;
}

// A provisioning area as text: up to its first NUL, or empty when it has none
// (a blank or damaged area is not read past its end).
std::string_view provisioned_text(std::uint32_t offset) {
  const auto area = psram(offset, provisioning_area_bytes);
  const auto* end = static_cast<const std::uint8_t*>(std::memchr(area.data(), 0, area.size()));
  if (end == nullptr) return {};
  return {reinterpret_cast<const char*>(area.data()), static_cast<std::size_t>(end - area.data())};
}

// The provisioned configuration lines, applied over the board's defaults; the
// network_ keys are the board's own (board_network.hpp).
bool apply_provisioned_config(RelayConfig& config, NetworkSettings& network) {
  std::string_view text = provisioned_text(config_text_offset);
  bool ok = true;
  for (int number = 1; !text.empty(); ++number) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    std::string_view error;
    const std::optional<ConfigLine> entry = split_config_line(line);
    if (!entry || !entry->error.empty() || !apply_network_line(network, *entry, error)) {
      error = apply_config_line(config, line);
    }
    if (!error.empty()) {
      say("pigeon: provisioned configuration line %d: %.*s\n", number, static_cast<int>(error.size()), error.data());
      ok = false;
    }
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return ok;
}

// TLS to the smarthost (firmware/provisioning.hpp) with the CA certificates of
// the provisioning area, where a real board's factory would put them.
bool set_up_smarthost_tls(const RelayConfig& config, SmarthostTlsClient& tls) {
  const std::string_view error =
      set_up_smarthost_tls(config.smarthost, provisioned_text(smarthost_ca_offset).data(), tls);
  return error.empty() || stop(error);
}

// The console's one command: the line "assert" fails a PIGEON_ASSERT, so that
// the board test (tests/board/test_assert.py) sees the handler's message and
// the reset. Only the UART reaches it, that is hands on the board; no network
// client can. Other lines are ignored.
class Console {
 public:
  void poll() {
    for (int c = uart_read(); c >= 0; c = uart_read()) {
      if (c != '\r' && c != '\n') {
        overlong_ |= used_ == line_.size();
        if (!overlong_) line_[used_++] = static_cast<char>(c);
        continue;
      }
      const std::string_view command(line_.data(), overlong_ ? 0 : used_);
      used_ = 0;
      overlong_ = false;
      PIGEON_ASSERT(command != "assert");
    }
  }

 private:
  std::array<char, 8> line_{};
  std::size_t used_ = 0;
  bool overlong_ = false;
};

// The smarthost's name through lwIP's DNS client (numeric addresses need no query).
class LwipResolver final : public HostResolver {
 public:
  explicit LwipResolver(hal::LwipNet& net) : net_(net) {}
  hal::NetStatus resolve(std::string_view host_name, hal::IpAddress& out) override {
    return net_.resolve(host_name, out);
  }

 private:
  hal::LwipNet& net_;
};

bool start_network(Lan9118& nic, netif& interface) {
  lwip_init();
  return nic.start(interface) || stop("LAN9118 not found");
}

void print_ready(const Relay& relay, const BoardRecord& record, const netif& interface) {
  const char* address = ip4addr_ntoa(netif_ip4_addr(&interface));
  for (std::size_t i = 0; i < service_count; ++i) {
    if (!relay.offers(static_cast<Service>(i))) continue;
    const std::string_view name = service_name(static_cast<Service>(i));
    say("pigeon: %.*s listening on %s:%u\n", static_cast<int>(name.size()), name.data(), address,
        relay.bound_port(static_cast<Service>(i)));
  }
  say("pigeon: user '%.*s' password '%.*s' (kept in the board record)\n", static_cast<int>(default_user_name.size()),
      default_user_name.data(),
      static_cast<int>(record.password_length), record.password.data());
  // Clients pin this self-signed certificate (tools/qemu-board saves it).
  uart_write({record.cert_pem.data(), record.cert_length});
  TlsArenaUsage usage = tls_arena_usage();
  say("pigeon: tls arena %u of %u bytes in use, high-water %u\n", static_cast<unsigned>(usage.current_bytes),
      static_cast<unsigned>(usage.capacity_bytes), static_cast<unsigned>(usage.high_water_bytes));
  say("pigeon: counters at %p, stack %u bytes at %p\n", static_cast<void*>(&board_counters),
      static_cast<unsigned>(board_counters.stack_bytes), static_cast<void*>(&__stack_bottom));
  say("pigeon: ready\n");
}

int run() {
  uart_init();
  board_counters.stack_bytes = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(&__stack_top) -
                                                          reinterpret_cast<std::uintptr_t>(&__stack_bottom));
  static SysTickClock clock;
  clock.start();
  tls_arena_init();

  static hal::MemoryFlash record_flash(psram(0, record_geometry.total_bytes()), record_geometry);
  static hal::MemoryFlash spool_flash(psram(spool_offset, spool_geometry.total_bytes()), spool_geometry);
  static BoardRecord record;
  const bool have_record = load_board_record(record_flash, record);
  if (!have_record) erase_blank_image(record_flash, spool_flash);

  static BoardEntropy entropy;
  seed_entropy(entropy, record, have_record);
  CryptoRandom& random = build_forever<CryptoRandom>(entropy);
  if (!random.ready()) return stop("cannot seed the random generator"), 1;
  lwip_random_source = &random;

  static RelayConfig config;
  apply_config_line(config, "listen_address = 0.0.0.0");
  for (const char* line : {"smtp_port = 25", "submission_port = 587", "submissions_port = 465", "pop3_port = 110",
                           "pop3s_port = 995", "imap_port = 143", "imaps_port = 993"}) {
    apply_config_line(config, line);
  }
  static NetworkSettings network;
  if (!apply_provisioned_config(config, network)) return stop("the provisioned configuration has errors"), 1;
  if (!have_record && !make_identity(random, clock, config, record)) return stop("cannot make the server identity"), 1;
  // A new boot seed every boot: the next boot's entropy differs even under -icount.
  random.fill(record.boot_seed);
  if (!save_board_record(record_flash, record)) return stop("cannot save the board record"), 1;
  if (!add_default_user(random, {record.password.data(), record.password_length}, config, password_hash_iterations)) {
    return stop("cannot set up the default user"), 1;
  }

  TlsServer& tls = build_forever<TlsServer>(random);
  if (!tls.load_identity({record.key_pem.data(), record.key_length}, {record.cert_pem.data(), record.cert_length})) {
    return stop("the server key and certificate do not load"), 1;
  }
  if (!tls.enable_tickets(config.tls_ticket_lifetime_s)) return stop("no arena room for the ticket keys"), 1;
  static Accounts accounts(config);
  static Spool spool(spool_flash, accounts);
  // A new spool's UIDVALIDITY comes from the DRBG, not the clock: without an
  // RTC the wall clock counts from the build's time, so every boot of one
  // image would format at about the same second (docs/spool-format.md §2.1).
  constexpr std::int64_t wall_time_unknown_s = 0;
  std::uint32_t random_bits = 0;
  random.fill({reinterpret_cast<std::uint8_t*>(&random_bits), sizeof random_bits});
  if (spool.mount(spool_format::uid_validity_at_format(wall_time_unknown_s, random_bits)) != SpoolStatus::ok) {
    return stop("cannot mount the spool"), 1;
  }

  static Lan9118 nic;
  static netif interface;
  if (!start_network(nic, interface)) return 1;
  static MeasuredSleep timed_nic(nic);
  hal::LwipNet& net = build_forever<hal::LwipNet>(timed_nic);
  if (!configure_interface(interface, network, net, clock, dhcp_timeout_ms)) return stop("no DHCP lease"), 1;
  say("pigeon: address %s (%s)\n", ip4addr_ntoa(netif_ip4_addr(&interface)), network.dhcp ? "DHCP" : "static");
  static UartLog log(clock, hal::LogLevel::info);
  LoginService& logins = build_forever<LoginService>(config, accounts);
  if (!logins.start(random)) return stop("cannot draw the login keys"), 1;
  static RelayServices services{config, net, clock, log, spool, tls, accounts, logins};
  SmarthostTlsClient& smarthost_tls = build_forever<SmarthostTlsClient>(random);
  if (!set_up_smarthost_tls(config, smarthost_tls)) return 1;
  static LwipResolver resolver(net);
  static DeliveryScheduler scheduler(services, smarthost_tls, resolver);
  static Relay relay(services, &scheduler);
  Service failed = Service::smtp;
  if (relay.start(failed) != hal::NetStatus::ok) return stop("cannot listen"), 1;
  print_ready(relay, record, interface);

  static Console console;
  for (;;) {
    const std::uint32_t idle_ms = relay.poll(clock.monotonic_ms());
    net.wait(idle_ms);
    console.poll();
  }
}

}  // namespace
}  // namespace pigeon::board

// lwIP's port functions (hal/lwip/arch/cc.h and NO_SYS timers).
extern "C" u32_t sys_now(void) { return static_cast<u32_t>(pigeon::board::SysTickClock{}.monotonic_ms()); }

extern "C" unsigned int pigeon_lwip_random(void) {
  std::uint32_t value = 0;
  if (pigeon::board::lwip_random_source != nullptr) {
    pigeon::board::lwip_random_source->fill({reinterpret_cast<std::uint8_t*>(&value), sizeof value});
  }
  return value;
}

// lwIP's own checks fail as PIGEON_ASSERT does: message on the console, reset.
extern "C" void pigeon_lwip_assert_failed(const char* message, const char* file, int line) {
  pigeon::assert_failed(message, file, line);
}

int main() { return pigeon::board::run(); }
