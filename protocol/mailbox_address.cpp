#include "mailbox_address.hpp"

#include "ascii.hpp"

namespace pigeon::protocol {
namespace {

constexpr std::size_t max_local_part = 64;
constexpr std::size_t max_domain = 255;
constexpr std::size_t max_path = 256;

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// atext of RFC 5322 §3.2.3.
bool is_atext(char c) {
  return is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos ||
         static_cast<unsigned char>(c) >= 0x80;  // UTF-8 is passed through untouched
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

// "..." with quoted-pairs; printable ASCII and space inside.
bool valid_quoted_string(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i;  // the escaped character may not be the closing quote
      if (i >= text.size() - 1) return false;
      continue;
    }
    if (c == '"' || static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return false;
  }
  return true;
}

bool valid_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > max_domain) return false;
  if (domain.front() == '[') {
    // Address literal: [192.0.2.1] or [IPv6:...]; checked loosely for shape.
    if (domain.back() != ']' || domain.size() < 3) return false;
    for (char c : domain.substr(1, domain.size() - 2)) {
      if (!is_alnum(c) && c != '.' && c != ':') return false;
    }
    return true;
  }
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      const std::string_view label = domain.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
    } else if (!is_alnum(domain[i]) && domain[i] != '-' && static_cast<unsigned char>(domain[i]) < 0x80) {
      return false;
    }
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
  if (close == std::string_view::npos || close + 1 > max_path + 2) return std::nullopt;
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
