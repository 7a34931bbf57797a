// Base64 of RFC 4648 §4, with padding, as SASL (RFC 4954, RFC 5034) and the
// password hashes use it. Strict: a line break, a space, a missing or misplaced
// '=', or a bit set beyond the last byte makes the text invalid, so each byte
// string has one spelling. Pure C++, so that the engines, the firmware and the
// fuzz targets all use this one codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace pigeon::protocol {

namespace base64 {

// Decoded length, or nullopt when `text` is not valid base64 or does not fit.
std::optional<std::size_t> decode(std::string_view text, std::span<std::uint8_t> out);
// Encoded length, or nullopt when it does not fit in `out`.
std::optional<std::size_t> encode(std::span<const std::uint8_t> bytes, std::span<char> out);

}  // namespace base64

}  // namespace pigeon::protocol
