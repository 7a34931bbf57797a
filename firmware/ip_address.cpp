#include "ip_address.hpp"

#include <array>
#include <cstdint>

#include "text.hpp"

namespace pigeon {
namespace {

std::optional<hal::IpAddress> parse_v4(std::string_view text) {
  hal::IpAddress address;
  for (std::size_t octet = 0; octet < 4; ++octet) {
    const std::size_t dot = text.find('.');
    const bool last = octet == 3;
    if (last != (dot == std::string_view::npos)) return std::nullopt;
    const auto value = text::parse_u32(text.substr(0, dot));
    if (!value || *value > 255) return std::nullopt;
    address.bytes[octet] = static_cast<std::uint8_t>(*value);
    if (!last) text.remove_prefix(dot + 1);
  }
  return address;
}

std::optional<std::uint16_t> parse_hex_group(std::string_view group) {
  if (group.empty() || group.size() > 4) return std::nullopt;
  std::uint16_t value = 0;
  for (char c : group) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) return std::nullopt;
    value = static_cast<std::uint16_t>(value * 16 + digit);
  }
  return value;
}

// Parses colon-separated groups into `groups`; returns how many, or nullopt.
std::optional<std::size_t> parse_groups(std::string_view text, std::span<std::uint16_t> groups) {
  if (text.empty()) return 0;
  std::size_t count = 0;
  for (;;) {
    const std::size_t colon = text.find(':');
    const auto group = parse_hex_group(text.substr(0, colon));
    if (!group || count == groups.size()) return std::nullopt;
    groups[count++] = *group;
    if (colon == std::string_view::npos) return count;
    text.remove_prefix(colon + 1);
  }
}

std::optional<hal::IpAddress> parse_v6(std::string_view text) {
  std::array<std::uint16_t, 8> head{};
  std::array<std::uint16_t, 8> tail{};
  const std::size_t gap = text.find("::");
  const auto head_count = parse_groups(text.substr(0, gap), head);
  std::optional<std::size_t> tail_count = 0;
  if (gap != std::string_view::npos) tail_count = parse_groups(text.substr(gap + 2), tail);
  if (!head_count || !tail_count) return std::nullopt;
  const std::size_t total = *head_count + *tail_count;
  if (gap == std::string_view::npos ? total != 8 : total > 7) return std::nullopt;

  std::array<std::uint16_t, 8> groups{};
  for (std::size_t i = 0; i < *head_count; ++i) groups[i] = head[i];
  for (std::size_t i = 0; i < *tail_count; ++i) groups[8 - *tail_count + i] = tail[i];
  hal::IpAddress address;
  address.is_v6 = true;
  for (std::size_t i = 0; i < 8; ++i) {
    address.bytes[2 * i] = static_cast<std::uint8_t>(groups[i] >> 8);
    address.bytes[2 * i + 1] = static_cast<std::uint8_t>(groups[i] & 0xFF);
  }
  return address;
}

// Appends `value` to out[used..] in the given base; returns the new length.
std::size_t append_number(std::span<char, 40> out, std::size_t used, unsigned value, unsigned base) {
  char digits[8];
  std::size_t count = 0;
  do {
    digits[count++] = "0123456789abcdef"[value % base];
    value /= base;
  } while (value != 0);
  while (count > 0) out[used++] = digits[--count];
  return used;
}

std::string_view format_v6(const hal::IpAddress& address, std::span<char, 40> out) {
  std::array<unsigned, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) groups[i] = address.bytes[2 * i] * 256u + address.bytes[2 * i + 1];
  // The longest run of two or more zero groups becomes "::" (RFC 5952 §4.2).
  std::size_t best_start = 8, best_length = 1;
  for (std::size_t start = 0; start < 8;) {
    std::size_t end = start;
    while (end < 8 && groups[end] == 0) ++end;
    if (end - start > best_length) best_start = start, best_length = end - start;
    start = end == start ? start + 1 : end;
  }
  std::size_t used = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == best_start) {
      out[used++] = ':';
      if (i == 0) out[used++] = ':';
      i += best_length - 1;
      continue;
    }
    used = append_number(out, used, groups[i], 16);
    if (i != 7) out[used++] = ':';
  }
  return {out.data(), used};
}

bool is_v4_mapped(const hal::IpAddress& address) {
  constexpr std::uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  for (std::size_t i = 0; i < 12; ++i) {
    if (address.bytes[i] != mapped_prefix[i]) return false;
  }
  return true;
}

}  // namespace

AddressKey address_key(const hal::IpAddress& address) {
  AddressKey key;
  if (!address.is_v6) {
    for (std::size_t i = 0; i < 4; ++i) key.bytes[i] = address.bytes[i];
  } else if (is_v4_mapped(address)) {
    for (std::size_t i = 0; i < 4; ++i) key.bytes[i] = address.bytes[12 + i];
  } else {
    key.is_v6 = true;
    for (std::size_t i = 0; i < 8; ++i) key.bytes[i] = address.bytes[i];
  }
  return key;
}

std::optional<hal::IpAddress> parse_ip_address(std::string_view text) {
  return text.find(':') == std::string_view::npos ? parse_v4(text) : parse_v6(text);
}

std::string_view format_ip_address(const hal::IpAddress& address, std::span<char, 40> out) {
  if (address.is_v6) return format_v6(address, out);
  std::size_t used = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    used = append_number(out, used, address.bytes[i], 10);
    if (i != 3) out[used++] = '.';
  }
  return {out.data(), used};
}

std::string_view describe_peer(const hal::Endpoint& peer, std::span<char, peer_text_bytes> out) {
  if (peer.local) return "local";
  std::array<char, 40> scratch{};
  const std::string_view address = format_ip_address(peer.address, scratch);
  std::size_t used = 0;
  out[used++] = '[';
  used += address.copy(out.data() + used, address.size());
  out[used++] = ']';
  out[used++] = ':';
  const std::size_t port_digits = append_number(scratch, 0, peer.port, 10);
  used += std::string_view(scratch.data(), port_digits).copy(out.data() + used, port_digits);
  return {out.data(), used};
}

}  // namespace pigeon
