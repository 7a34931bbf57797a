// SASL framing shared by SMTP AUTH (RFC 4954) and POP3 AUTH (RFC 5034): the
// PLAIN message (RFC 4616) and the LOGIN prompts.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace pigeon::protocol {

struct SaslPlain {
  std::string_view authzid;  // empty when the client acts as itself
  std::string_view authcid;
  std::string_view password;
};

// Splits a decoded PLAIN message "authzid NUL authcid NUL password". Views point
// into `message`. nullopt when it is malformed (wrong NUL count, empty authcid
// or password, fields over 255 octets).
std::optional<SaslPlain> parse_sasl_plain(std::span<const std::uint8_t> message);

// The decoded PLAIN message's length: 3 fields of up to 255 octets, 2 NULs.
inline constexpr std::size_t max_sasl_plain_bytes = 3 * 256;

// A PLAIN response as the client sent it, base64 ("=" for empty, RFC 4954 §4,
// which PLAIN cannot use), decoded into `buffer` and split; views point into
// `buffer`. nullopt when either step fails.
std::optional<SaslPlain> decode_sasl_plain(std::string_view response,
                                           std::span<std::uint8_t, max_sasl_plain_bytes> buffer);

// The LOGIN mechanism's server challenges, base64 of "Username:" and "Password:".
inline constexpr std::string_view sasl_login_username_challenge = "VXNlcm5hbWU6";
inline constexpr std::string_view sasl_login_password_challenge = "UGFzc3dvcmQ6";

// True for the "*" line a client sends to cancel an exchange (RFC 4954 §4).
inline bool is_sasl_cancel(std::string_view line) { return line == "*"; }

}  // namespace pigeon::protocol
