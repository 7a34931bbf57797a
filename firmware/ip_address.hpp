// Text forms of IPv4 and IPv6 addresses, for the configuration, logs and
// Received headers. No OS calls, so it works the same on every board.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "hal/net.hpp"

namespace pigeon {

// Dotted quad "192.0.2.1" or RFC 4291 text "2001:db8::1" (no embedded IPv4).
std::optional<hal::IpAddress> parse_ip_address(std::string_view text);
// Writes the address as text into `out`; returns the view of what was written.
// IPv6 is written with every group, in lower-case hex, "::" for the longest run of zeros.
std::string_view format_ip_address(const hal::IpAddress& address, std::span<char, 40> out);

// How logs name a client: "[192.0.2.1]:25", "[2001:db8::1]:25", or "local"
// for a client of the host's local socket.
inline constexpr std::size_t peer_text_bytes = 48;  // "[" 39 characters "]:" 5 digits
std::string_view describe_peer(const hal::Endpoint& peer, std::span<char, peer_text_bytes> out);

// The client a connection counts against in per-address limits: a whole IPv4
// address, or the /64 prefix of an IPv6 address (a site is given at least a
// /64 and any host in it can take a fresh address at will). An IPv4-mapped
// IPv6 address (::ffff:192.0.2.1, from a dual-stack socket) is its IPv4 address,
// or every IPv4 client would share the key ::/64.
struct AddressKey {
  bool is_v6 = false;
  std::array<std::uint8_t, 8> bytes{};  // IPv4: the 4 bytes, then zeros

  friend bool operator==(const AddressKey&, const AddressKey&) = default;
};

AddressKey address_key(const hal::IpAddress& address);

}  // namespace pigeon
