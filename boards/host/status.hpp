// `pigeon status` (docs/routers.md): what a device owner needs to know of the
// relay at a glance, asked of the running relay over its local socket, or read
// from the configuration and the state folder when it is not running.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "firmware/delivery_scheduler.hpp"
#include "firmware/relay.hpp"
#include "firmware/server_identity.hpp"

namespace pigeon::host {

// What the running relay knows of itself besides its engines' counters.
struct RelayFacts {
  const RelayConfig& config;
  const char* state_path;
  const char* socket_path;
  std::string_view fingerprint;  // the certificate's SHA-256, "AB:CD:..."
  std::int64_t started_unix_s;
};

// The running relay's status: its listeners, queue, spool and certificate.
std::size_t write_running_status(const RelayFacts& facts, const Relay& relay, const DeliveryScheduler& scheduler,
                                 const Spool& spool, std::int64_t now_unix_s, std::span<char> out);

// "ADDRESS:PORT", with an IPv6 address in brackets.
std::string_view format_endpoint(const hal::IpAddress& address, std::uint16_t port, std::span<char, 48> out);

// The certificate's fingerprint and how a device owner trusts a certificate no
// CA signed, in lines that each begin with `prefix`: logged at start and shown
// by `pigeon status`. `host_name` and `tls_port` name the implicit-TLS
// listener in the command that shows the fingerprint a client sees. Returns the
// length written to `out`.
std::size_t write_certificate_lines(const char* prefix, std::string_view fingerprint, const char* state_path,
                                    std::string_view host_name, std::uint16_t tls_port, std::span<char> out);

// `pigeon status [-C FILE] [--state DIR]`: exit 0 with the relay's status, 3
// (LSB: not running) with what the files say, 77 when the socket refuses us.
// DIR is the relay's state folder: its certificate, and its socket when the
// configuration names none.
bool called_as_status(int argc, char** argv);
int run_status_command(int argc, char** argv);

}  // namespace pigeon::host
