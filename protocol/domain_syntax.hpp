// RFC 5321 §4.1.2 and §4.1.3 syntax of domains and address literals, shared
// by paths (mailbox_address.hpp) and the EHLO/HELO argument. Text that passes
// these checks may stand in a header: it holds no control byte and no space.
#pragma once

#include <string_view>

namespace pigeon::protocol {

// Dotted decimal, four numbers 0-255 of one to three digits: "192.0.2.1".
bool is_ipv4_text(std::string_view text);
// The IPv6 forms of RFC 5321 §4.1.3 (full, compressed, with an IPv4 tail),
// without the "IPv6:" tag. "::" may stand for a single zero group as RFC 4291
// allows; no zone index ("%eth0").
bool is_ipv6_text(std::string_view text);
// "[192.0.2.1]" or "[IPv6:2001:db8::1]" (the tag in any case). General
// address literals ("[tag:content]") are refused: no tag is registered.
bool is_address_literal(std::string_view text);

// A mail domain (RFC 5321 Domain): dot-separated labels of 1-63 octets,
// letters, digits and hyphens, starting and ending with a letter or digit,
// at most 255 octets in all. Octets from 0x80 are passed for internationalised
// names; the caller checks that they are UTF-8.
bool is_mail_domain(std::string_view text);

// What pigeon takes as the EHLO/HELO argument (docs/security.md, "What is
// refused"): an address literal; a name of labels made of ASCII letters,
// digits, hyphens and underscores anywhere, as devices send them ("DESKTOP_7",
// "printer", a bare IPv4 address); or a bare IPv6 address.
bool is_client_domain(std::string_view text);

}  // namespace pigeon::protocol
