#include "base64.hpp"

#include <algorithm>

namespace pigeon::protocol::base64 {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of a base64 character, or -1 (also for '=').
int sextet(char c) {
  const std::size_t index = alphabet.find(c);
  return index == std::string_view::npos ? -1 : static_cast<int>(index);
}

// The '=' that end the last quantum: none, one or two.
std::size_t padding_of(std::string_view text) {
  if (text.ends_with("==")) return 2;
  return text.ends_with('=') ? 1 : 0;
}

}  // namespace

std::optional<std::size_t> decode(std::string_view text, std::span<std::uint8_t> out) {
  if (text.size() % 4 != 0) return std::nullopt;
  const std::size_t padding = padding_of(text);
  const std::size_t length = text.size() / 4 * 3 - padding;
  if (length > out.size()) return std::nullopt;
  const std::size_t data_characters = text.size() - padding;
  std::size_t written = 0;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t quantum = 0;
    for (std::size_t j = i; j < i + 4; ++j) {
      const int value = j < data_characters ? sextet(text[j]) : 0;
      if (value < 0) return std::nullopt;
      quantum = quantum << 6 | static_cast<std::uint32_t>(value);
    }
    // The last quantum's bits beyond its bytes must be zero (RFC 4648 §3.5):
    // otherwise "QR==" would spell the same "A" as "QQ==".
    const bool last = i + 4 == text.size();
    if (last && (quantum & ((1u << (8 * padding)) - 1)) != 0) return std::nullopt;
    for (int shift = 16; shift >= 0 && written < length; shift -= 8) {
      out[written++] = static_cast<std::uint8_t>(quantum >> shift);
    }
  }
  return written;
}

std::optional<std::size_t> encode(std::span<const std::uint8_t> bytes, std::span<char> out) {
  const std::size_t length = (bytes.size() + 2) / 3 * 4;
  if (length > out.size()) return std::nullopt;
  for (std::size_t i = 0, o = 0; i < bytes.size(); i += 3, o += 4) {
    const std::size_t have = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t quantum = 0;
    for (std::size_t k = 0; k < 3; ++k) quantum = quantum << 8 | (k < have ? bytes[i + k] : 0u);
    // `have` bytes fill have + 1 characters; '=' pads the quantum to four.
    for (std::size_t k = 0; k < 4; ++k) out[o + k] = k <= have ? alphabet[(quantum >> (18 - 6 * k)) & 0x3F] : '=';
  }
  return length;
}

}  // namespace pigeon::protocol::base64
