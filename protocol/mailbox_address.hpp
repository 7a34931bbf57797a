// RFC 5321 §4.1.2 paths: "<local@domain>", "<>" for the null reverse-path,
// source routes (accepted and dropped, §C), quoted local parts, address literals.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace pigeon::protocol {

// The longest reverse-path or forward-path (RFC 5321 §4.5.3.1.3); a path
// without its brackets fits a buffer of this size.
inline constexpr std::size_t max_path_bytes = 256;

struct MailboxAddress {
  std::string_view path;        // "local@domain" without brackets or source route
  std::string_view local_part;  // as written (a quoted one keeps its quotes)
  std::string_view domain;
};

// Parses what follows "FROM:" or "TO:" up to the closing '>'. `rest` receives
// the text after it (the ESMTP parameters). A null path "<>" gives an empty
// path. nullopt when the syntax or a length limit (64/255/256) is broken.
std::optional<MailboxAddress> parse_path(std::string_view text, std::string_view& rest);

// A forward-path (what follows "RCPT TO:"): a path, or "<Postmaster>" without
// a domain in any case (RFC 5321 §4.5.1 says it MUST be accepted), which
// gives the path and local part as written and an empty domain.
std::optional<MailboxAddress> parse_forward_path(std::string_view text, std::string_view& rest);

}  // namespace pigeon::protocol
