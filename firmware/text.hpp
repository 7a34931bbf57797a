// Small text helpers for configuration and protocol glue (ASCII only).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pigeon::text {

std::string_view trim(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
// A decimal number without sign that fits in 32 bits.
std::optional<std::uint32_t> parse_u32(std::string_view text);

// Splits on spaces and commas, one token per call: `rest` is advanced.
std::string_view next_token(std::string_view& rest);

}  // namespace pigeon::text
