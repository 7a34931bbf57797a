#include "domain_syntax.hpp"

#include <cstddef>
#include <optional>

#include "ascii.hpp"

namespace pigeon::protocol {
namespace {

constexpr std::size_t max_domain_octets = 255;
constexpr std::size_t max_label_octets = 63;
constexpr std::size_t ipv6_groups = 8;  // of 16 bits; an IPv4 tail counts as two

bool is_hex_digit(char c) { return ascii::is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Calls `visit(part)` for each `separator`-separated part of `text` (an empty
// text is one empty part); false as soon as a visit is.
template <class Visit>
bool each_part(std::string_view text, char separator, Visit visit) {
  for (;;) {
    const std::size_t end = text.find(separator);
    if (!visit(text.substr(0, end))) return false;
    if (end == std::string_view::npos) return true;
    text.remove_prefix(end + 1);
  }
}

// A domain of labels that `label_ok` accepts, within RFC 1035's lengths.
template <class LabelOk>
bool labels_valid(std::string_view domain, LabelOk label_ok) {
  if (domain.empty() || domain.size() > max_domain_octets) return false;
  return each_part(domain, '.', [&](std::string_view label) {
    return !label.empty() && label.size() <= max_label_octets && label_ok(label);
  });
}

template <class CharOk>
bool all_of(std::string_view text, CharOk char_ok) {
  for (const char c : text) {
    if (!char_ok(c)) return false;
  }
  return true;
}

// The number of 16-bit groups in one side of an IPv6 address: hex groups
// separated by ':', the last one possibly an IPv4 address (two groups).
// nullopt for anything else; an empty side has none.
std::optional<std::size_t> ipv6_side_groups(std::string_view side, bool ipv4_tail_allowed) {
  if (side.empty()) return 0;
  std::size_t groups = 0;
  const bool ok = each_part(side, ':', [&](std::string_view group) {
    const bool last = group.data() + group.size() == side.data() + side.size();
    if (last && ipv4_tail_allowed && is_ipv4_text(group)) {
      groups += 2;
      return true;
    }
    ++groups;
    return !group.empty() && group.size() <= 4 && all_of(group, is_hex_digit);
  });
  if (!ok) return std::nullopt;
  return groups;
}

}  // namespace

bool is_ipv4_text(std::string_view text) {
  std::size_t parts = 0;
  const bool ok = each_part(text, '.', [&](std::string_view part) {
    ++parts;
    const auto value = part.size() <= 3 ? ascii::parse_u32(part) : std::nullopt;
    return value && *value <= 255;
  });
  return ok && parts == 4;
}

bool is_ipv6_text(std::string_view text) {
  const std::size_t gap = text.find("::");
  if (gap == std::string_view::npos) {
    const auto groups = ipv6_side_groups(text, true);
    return groups && *groups == ipv6_groups;
  }
  // Only one "::"; the IPv4 tail, if any, is right of it.
  const auto left = ipv6_side_groups(text.substr(0, gap), false);
  const auto right = ipv6_side_groups(text.substr(gap + 2), true);
  return left && right && *left + *right < ipv6_groups;
}

bool is_address_literal(std::string_view text) {
  if (text.size() < 3 || text.front() != '[' || text.back() != ']') return false;
  const std::string_view inside = text.substr(1, text.size() - 2);
  constexpr std::string_view ipv6_tag = "IPv6:";
  if (ascii::istarts_with(inside, ipv6_tag)) return is_ipv6_text(inside.substr(ipv6_tag.size()));
  return is_ipv4_text(inside);
}

bool is_mail_domain(std::string_view text) {
  return labels_valid(text, [](std::string_view label) {
    const auto edge_ok = [](char c) { return ascii::is_alnum(c) || ascii::is_non_ascii(c); };
    return edge_ok(label.front()) && edge_ok(label.back()) &&
           all_of(label, [&](char c) { return edge_ok(c) || c == '-'; });
  });
}

bool is_client_domain(std::string_view text) {
  if (is_address_literal(text) || is_ipv6_text(text)) return true;
  return labels_valid(text, [](std::string_view label) {
    return all_of(label, [](char c) { return ascii::is_alnum(c) || c == '-' || c == '_'; });
  });
}

}  // namespace pigeon::protocol
