// Text forms of IPv4 and IPv6 addresses, for the configuration, logs and
// Received headers. No OS calls, so it works the same on every board.
#pragma once

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

}  // namespace pigeon
