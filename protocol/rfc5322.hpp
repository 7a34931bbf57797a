// RFC 5322 header writing: dates, and the Received trace header an MTA prepends.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace pigeon::protocol {

// "Sun, 22 Nov 2026 14:42:33 +0000" (RFC 5322 §3.3, always UTC). Returns the
// view of what was written into `out`.
std::string_view format_date(std::int64_t unix_time_s, std::span<char, 32> out);

struct ReceivedTrace {
  std::string_view helo_name;     // what the client said in EHLO/HELO
  std::string_view client_ip;     // the peer's address as text
  std::string_view host_name;     // ours
  std::string_view protocol;      // "ESMTP", "ESMTPS", "ESMTPSA", "ESMTPA" (RFC 3848)
  std::string_view id;            // our queue id for the message
  std::string_view recipient;     // the "for" clause; empty when several
  std::int64_t unix_time_s = 0;
};

// The Received header (RFC 5321 §4.4), folded, ending in CRLF. Returns the
// length written, or 0 when `out` is too small or a field holds a control byte.
std::size_t write_received_header(const ReceivedTrace& trace, std::span<char> out);

}  // namespace pigeon::protocol
