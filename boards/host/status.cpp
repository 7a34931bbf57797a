#include "status.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "config_file.hpp"
#include "firmware/ip_address.hpp"
#include "local_socket.hpp"

namespace pigeon::host {
namespace {

// The LSB's exit status of a status command for "program is not running".
constexpr int status_not_running = 3;

// The state folder of the packages (docs/routers.md), where `pigeon status`
// looks for the certificate when it is given no --state.
constexpr const char* packaged_state_path = "/var/lib/pigeon";

// Appends printf-style text to `out` from `used` on; returns the new length
// (the text is cut where `out` ends).
template <typename... Args>
std::size_t append(std::span<char> out, std::size_t used, const char* format, Args... args) {
  if (used >= out.size()) return used;
  const int written = std::snprintf(out.data() + used, out.size() - used, format, args...);
  if (written < 0) return used;
  return std::min(out.size() - 1, used + static_cast<std::size_t>(written));
}

std::size_t append_listener(std::span<char> out, std::size_t used, const char* what, Service service,
                            const hal::IpAddress& address, std::uint16_t port) {
  std::array<char, 48> endpoint{};
  const std::string_view name = service_name(service);
  const std::string_view text = format_endpoint(address, port, endpoint);
  return append(out, used, "%s: %.*s on %.*s\n", what, static_cast<int>(name.size()), name.data(),
                static_cast<int>(text.size()), text.data());
}

// The certificate in `state_path`, when there is one that reads (the folder
// is not made when it is missing: this is a look, not a start).
std::optional<std::string_view> stored_fingerprint(const char* state_path, std::span<char, fingerprint_chars> out) {
  std::array<char, 4096> path{};
  std::snprintf(path.data(), path.size(), "%s/cert.pem", state_path);
  std::FILE* file = std::fopen(path.data(), "r");
  if (file == nullptr) return std::nullopt;
  std::array<char, 8192> pem{};
  const std::size_t length = std::fread(pem.data(), 1, pem.size(), file);
  std::fclose(file);
  return certificate_fingerprint({pem.data(), length}, out);
}

// What the files say when the relay does not answer.
int report_not_running(const RelayConfig& config, const char* socket_path, const char* state_path) {
  std::array<char, 2048> text{};
  std::size_t used = append(text, 0, "state: not running (nobody answers on %s)\n", socket_path);
  for (std::size_t i = 0; i < service_count; ++i) {
    const auto service = static_cast<Service>(i);
    used = append_listener(text, used, "configured listener", service, config.listen_address, config.port(service));
  }
  std::array<char, fingerprint_chars> fingerprint{};
  if (const auto known = stored_fingerprint(state_path, fingerprint)) {
    used += write_certificate_lines("", *known, state_path, config.host_name.view(), config.port(Service::submissions),
                                    std::span(text).subspan(used));
  } else {
    used = append(text, used, "certificate: none in %s yet (made at the first start; --state DIR names the folder)\n",
                  state_path);
  }
  std::fwrite(text.data(), 1, used, stdout);
  return status_not_running;
}

}  // namespace

std::string_view format_endpoint(const hal::IpAddress& address, std::uint16_t port, std::span<char, 48> out) {
  std::array<char, 40> host{};
  const std::string_view text = format_ip_address(address, host);
  const char* open = address.is_v6 ? "[" : "";
  const char* close = address.is_v6 ? "]" : "";
  const int length = std::snprintf(out.data(), out.size(), "%s%.*s%s:%u", open, static_cast<int>(text.size()),
                                   text.data(), close, port);
  return {out.data(), static_cast<std::size_t>(std::max(length, 0))};
}

std::size_t write_certificate_lines(const char* prefix, std::string_view fingerprint, const char* state_path,
                                    std::string_view host_name, std::uint16_t tls_port, std::span<char> out) {
  std::size_t used = append(out, 0, "%scertificate SHA-256 fingerprint %.*s\n", prefix,
                            static_cast<int>(fingerprint.size()), fingerprint.data());
  used = append(out, used,
                "%sno CA signed it: to trust it on a device, import %s/cert.pem there, or check that the device's "
                "client shows this fingerprint,\n",
                prefix, state_path);
  return append(out, used,
                "%sas does: openssl s_client -connect %.*s:%u </dev/null | openssl x509 -noout -fingerprint -sha256\n",
                prefix, static_cast<int>(host_name.size()), host_name.data(), tls_port);
}

std::size_t write_running_status(const RelayFacts& facts, const Relay& relay, const DeliveryScheduler& scheduler,
                                 const Spool& spool, std::int64_t now_unix_s, std::span<char> out) {
  const RelayConfig& config = facts.config;
  std::size_t used = append(out, 0, "state: running for %lld s (pid %d)\n",
                            static_cast<long long>(now_unix_s - facts.started_unix_s), static_cast<int>(::getpid()));
  for (std::size_t i = 0; i < service_count; ++i) {
    const auto service = static_cast<Service>(i);
    used = append_listener(out, used, "listener", service, config.listen_address, relay.bound_port(service));
  }
  used = append(out, used, "local socket: %s\nstate folder: %s\n", facts.socket_path, facts.state_path);
  const std::size_t queued = scheduler.queue().size();
  const std::string_view smarthost = config.smarthost.host.view();
  if (smarthost.empty()) {
    used = append(out, used, "queue: no smarthost configured, nothing is relayed\n");
  } else {
    used = append(out, used, "queue: %zu message%s owed to the smarthost %.*s%s\n", queued, queued == 1 ? "" : "s",
                  static_cast<int>(smarthost.size()), smarthost.data(),
                  queued == PIGEON_DELIVERY_QUEUE_LENGTH ? " (or more: the rest wait in the spool)" : "");
  }
  const Spool::Usage usage = spool.usage();
  const std::uint32_t sector_kib = config.spool_bytes / usage.sector_count / 1024;
  const std::uint32_t used_sectors = usage.sector_count - usage.free_sectors;
  used = append(out, used, "spool: %u messages; %u of %u sectors in use (%u of %u KiB)\n", usage.messages,
                used_sectors, usage.sector_count, used_sectors * sector_kib, usage.sector_count * sector_kib);
  return used + write_certificate_lines("", facts.fingerprint, facts.state_path, config.host_name.view(),
                                        relay.bound_port(Service::submissions), out.subspan(used));
}

bool called_as_status(int argc, char** argv) { return argc > 1 && std::string_view(argv[1]) == "status"; }

int run_status_command(int argc, char** argv) {
  const char* config_path = std::getenv("PIGEON_CONFIG");
  const char* state_path = packaged_state_path;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-C" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--state" && i + 1 < argc) {
      state_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: pigeon status [-C pigeon.conf] [--state DIR]\n");
      return ex_usage;
    }
  }
  static RelayConfig config;
  if (!read_relay_config(config_path, config)) {
    return report_failure("pigeon status", ex_config, "cannot read the pigeon configuration");
  }
  // As the relay does: without local_socket, the socket is in the state folder.
  std::array<char, 256> default_socket{};
  if (state_path != packaged_state_path && config.local_socket.empty()) {
    if (const char* path = local_socket_path(config, state_path, default_socket)) config.local_socket.assign(path);
  }
  std::array<char, 256> path_storage{};
  const char* path = client_socket_path(config, path_storage);
  if (path == nullptr) return report_failure("pigeon status", ex_config, "the local socket's path is too long");
  const int fd = connect_local(path, "STATUS", 10);
  if (fd < 0) {
    const int error = errno;
    if (error != ENOENT && error != ECONNREFUSED) return report_unreachable("pigeon status", path);
    return report_not_running(config, path, state_path);
  }
  const bool answered = copy_answer(fd);
  ::close(fd);
  return answered ? ex_ok : report_failure("pigeon status", ex_tempfail, "the relay did not answer");
}

}  // namespace pigeon::host
