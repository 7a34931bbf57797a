// ASCII text helpers shared by the protocol engines and the relay's
// configuration: commands, keywords and numbers in SMTP and POP3 are ASCII and
// case-insensitive, so nothing here knows about locales or UTF-8.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pigeon::ascii {

constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c); }
// The C0 controls and DEL; never part of a header's text.
constexpr bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }
// An octet from 0x80: not ASCII at all (part of a UTF-8 sequence, if anything).
constexpr bool is_non_ascii(char c) { return static_cast<unsigned char>(c) >= 0x80; }
constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view text, std::string_view prefix);
// Without leading and trailing spaces, tabs, CRs and LFs.
std::string_view trim(std::string_view text);
// Splits the first space-separated word off `text`; `text` keeps the rest.
std::string_view next_word(std::string_view& text);
// A decimal number without sign that fits in 32 bits.
std::optional<std::uint32_t> parse_u32(std::string_view text);

}  // namespace pigeon::ascii
