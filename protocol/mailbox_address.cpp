#include "mailbox_address.hpp"

#include <cstdint>

#include "ascii.hpp"
#include "domain_syntax.hpp"

namespace pigeon::protocol {
namespace {

constexpr std::size_t max_local_part = 64;

// atext of RFC 5322 §3.2.3.
bool is_atext(char c) {
  return ascii::is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos ||
         ascii::is_non_ascii(c);  // UTF-8, checked by valid_utf8()
}

bool valid_dot_atom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '.') {
      if (text[i + 1] == '.') return false;
    } else if (!is_atext(text[i])) {
      return false;
    }
  }
  return true;
}

// "..." with quoted-pairs; printable ASCII, space and UTF-8 inside. A quoted-pair
// escapes printable ASCII and space only (RFC 5321 §4.1.2 quoted-pairSMTP), so
// no control byte gets into a path by way of a backslash.
bool valid_quoted_string(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i;  // the escaped character may not be the closing quote
      if (i >= text.size() - 1 || ascii::is_control(text[i]) || ascii::is_non_ascii(text[i])) return false;
      continue;
    }
    if (c == '"' || ascii::is_control(c)) return false;
  }
  return true;
}

bool valid_domain(std::string_view domain) { return is_address_literal(domain) || is_mail_domain(domain); }

// Octets from 0x80 (passed in atext, quoted strings and domain labels) only as
// well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF) and never as the C1 controls U+0080-U+009F: a path reaches the
// Received header, where it must be text.
bool valid_utf8(std::string_view text) {
  static constexpr std::uint32_t smallest_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = lead >= 0xF8 ? 0 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
    if (length == 0 || i + length > text.size()) return false;
    std::uint32_t code_point = lead & (0x7Fu >> length);
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = code_point << 6 | (next & 0x3Fu);
    }
    if (code_point < smallest_for_length[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF) || code_point <= 0x9F) {
      return false;
    }
    i += length;
  }
  return true;
}

// The '@' that separates local part and domain: the last one outside quotes.
std::size_t find_separator(std::string_view mailbox) {
  bool quoted = false;
  std::size_t at = std::string_view::npos;
  for (std::size_t i = 0; i < mailbox.size(); ++i) {
    if (mailbox[i] == '\\' && quoted) {
      ++i;
    } else if (mailbox[i] == '"') {
      quoted = !quoted;
    } else if (mailbox[i] == '@' && !quoted) {
      at = i;
    }
  }
  return at;
}

// The index of the closing '>' (not inside quotes), or npos.
std::size_t find_close(std::string_view text) {
  bool quoted = false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (text[i] == '\\' && quoted) {
      ++i;
    } else if (text[i] == '"') {
      quoted = !quoted;
    } else if (text[i] == '>' && !quoted) {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<MailboxAddress> parse_path(std::string_view text, std::string_view& rest) {
  if (text.empty() || text.front() != '<') return std::nullopt;
  const std::size_t close = find_close(text);
  if (close == std::string_view::npos || close + 1 > max_path_bytes + 2) return std::nullopt;
  rest = text.substr(close + 1);
  std::string_view inside = text.substr(1, close - 1);
  if (inside.empty()) return MailboxAddress{};
  if (inside.front() == '@') {
    // A source route "@a,@b:" is obsolete; RFC 5321 §C says to ignore it.
    const std::size_t colon = inside.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    inside.remove_prefix(colon + 1);
  }
  const std::size_t at = find_separator(inside);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view local = inside.substr(0, at);
  const std::string_view domain = inside.substr(at + 1);
  if (local.empty() || local.size() > max_local_part || !valid_domain(domain)) return std::nullopt;
  if (!(local.front() == '"' ? valid_quoted_string(local) : valid_dot_atom(local))) return std::nullopt;
  if (!valid_utf8(inside)) return std::nullopt;
  return MailboxAddress{inside, local, domain};
}

std::optional<MailboxAddress> parse_forward_path(std::string_view text, std::string_view& rest) {
  constexpr std::string_view bare_postmaster = "<postmaster>";
  if (!ascii::istarts_with(text, bare_postmaster)) return parse_path(text, rest);
  rest = text.substr(bare_postmaster.size());
  const std::string_view as_written = text.substr(1, bare_postmaster.size() - 2);
  return MailboxAddress{as_written, as_written, {}};
}

}  // namespace pigeon::protocol
