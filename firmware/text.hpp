// Text helpers for configuration and protocol glue (ASCII only): the shared
// ones of protocol/ascii.hpp, and the tokenizer of configuration values.
#pragma once

#include <string_view>

#include "protocol/ascii.hpp"

namespace pigeon::text {

using ascii::iequals;
using ascii::parse_u32;
using ascii::trim;

// Splits on spaces and commas, one token per call: `rest` is advanced.
std::string_view next_token(std::string_view& rest);

}  // namespace pigeon::text
