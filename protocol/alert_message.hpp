// Composes the RFC 5322 message for a firmware alert: Date, From, To, an RFC
// 2047 Subject when it is not plain short ASCII, a unique Message-ID, MIME
// text/plain in UTF-8 with 7bit or quoted-printable transfer encoding. Header
// injection (CR or LF in any field) is refused, never repaired.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pigeon::protocol {

struct AlertFields {
  std::string_view from;           // addr-spec, ASCII ("pigeon@router.example")
  std::string_view to;             // addr-spec, ASCII
  std::string_view subject;        // UTF-8
  std::string_view body;           // UTF-8; LF or CRLF line ends
  std::string_view message_id;     // the unique left part; "@host" is added
  std::string_view host_name;      // the right part of the Message-ID
  std::int64_t unix_time_s = 0;    // Date
  std::uint32_t occurrences = 1;   // coalesced alerts: the body says how many
  std::int64_t first_unix_time_s = 0;  // when the first of them happened
};

enum class AlertComposeStatus : std::uint8_t {
  ok,
  header_injection,  // CR or LF in a header field
  bad_address,       // empty, non-ASCII or not an addr-spec
  bad_text,          // subject or body is not valid UTF-8, or holds NUL
  too_long,          // does not fit in the output buffer
};

struct AlertComposeResult {
  AlertComposeStatus status = AlertComposeStatus::ok;
  std::size_t length = 0;  // bytes written on success
  bool ok() const { return status == AlertComposeStatus::ok; }
};

AlertComposeResult compose_alert(const AlertFields& fields, std::span<char> out);

// The checks compose_alert() makes on what a caller of the alert API supplies,
// so that an alert can be refused before it is counted.
AlertComposeStatus check_alert_content(std::string_view to, std::string_view subject, std::string_view body);

// True when `text` is well-formed UTF-8 (RFC 3629: no overlongs, surrogates
// or code points above U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace pigeon::protocol
