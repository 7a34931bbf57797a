// The board's IPv4 interface: an address from DHCP (the default; QEMU's user
// network serves one), or a static address, gateway and DNS server given by
// provisioning lines of the board's own:
//   network_address = dhcp | A.B.C.D/BITS
//   network_gateway = A.B.C.D
//   network_dns = A.B.C.D
#pragma once

#include <lwip/ip4_addr.h>
#include <lwip/netif.h>

#include <optional>
#include <string_view>

#include "firmware/config.hpp"
#include "hal/clock.hpp"
#include "hal/lwip/lwip_net.hpp"

namespace pigeon::board {

struct NetworkSettings {
  bool dhcp = true;
  ip4_addr_t address{};
  ip4_addr_t netmask{};
  ip4_addr_t gateway{};
  ip4_addr_t dns{};
};

// True when `line` is one of the board's network keys (then `error` says what
// was wrong with its value, or is empty).
bool apply_network_line(NetworkSettings& settings, const ConfigLine& line, std::string_view& error);

// Sets the static address, or starts DHCP and waits (servicing lwIP through
// `net`) until a lease is bound or `timeout_ms` has passed. False on timeout.
bool configure_interface(netif& interface, const NetworkSettings& settings, hal::LwipNet& net, hal::Clock& clock,
                         std::uint32_t timeout_ms);

}  // namespace pigeon::board
