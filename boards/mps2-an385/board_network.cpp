#include "board_network.hpp"

#include <lwip/dhcp.h>
#include <lwip/dns.h>

#include <array>

#include "protocol/ascii.hpp"

namespace pigeon::board {
namespace {

// lwIP's parser wants a NUL-terminated string.
bool parse_ip4(std::string_view text, ip4_addr_t& out) {
  std::array<char, 16> buffer{};
  if (text.empty() || text.size() >= buffer.size()) return false;
  text.copy(buffer.data(), text.size());
  return ip4addr_aton(buffer.data(), &out) != 0;
}

std::string_view set_address(NetworkSettings& settings, std::string_view value) {
  if (value == "dhcp") {
    settings.dhcp = true;
    return {};
  }
  const std::size_t slash = value.find('/');
  const auto bits = slash == std::string_view::npos ? std::nullopt : ascii::parse_u32(value.substr(slash + 1));
  if (!bits || *bits == 0 || *bits > 32 || !parse_ip4(value.substr(0, slash), settings.address)) {
    return "expected dhcp or A.B.C.D/BITS";
  }
  ip4_addr_set_u32(&settings.netmask, lwip_htonl(~0u << (32 - *bits)));
  settings.dhcp = false;
  return {};
}

}  // namespace

bool apply_network_line(NetworkSettings& settings, const ConfigLine& line, std::string_view& error) {
  constexpr std::string_view bad_address = "expected A.B.C.D";
  if (line.key == "network_address") {
    error = set_address(settings, line.value());
  } else if (line.key == "network_gateway") {
    error = parse_ip4(line.value(), settings.gateway) ? std::string_view{} : bad_address;
  } else if (line.key == "network_dns") {
    error = parse_ip4(line.value(), settings.dns) ? std::string_view{} : bad_address;
  } else {
    return false;
  }
  return true;
}

bool configure_interface(netif& interface, const NetworkSettings& settings, hal::LwipNet& net, hal::Clock& clock,
                         std::uint32_t timeout_ms) {
  if (!settings.dhcp) {
    netif_set_addr(&interface, &settings.address, &settings.netmask, &settings.gateway);
    ip_addr_t dns_server;
    ip_addr_copy_from_ip4(dns_server, settings.dns);
    dns_setserver(0, &dns_server);
    return true;
  }
  // The lease also brings the gateway and the DNS servers.
  if (dhcp_start(&interface) != ERR_OK) return false;
  const std::uint64_t deadline_ms = clock.monotonic_ms() + timeout_ms;
  while (!dhcp_supplied_address(&interface)) {
    if (clock.monotonic_ms() >= deadline_ms) return false;
    net.wait(100);
  }
  return true;
}

}  // namespace pigeon::board
