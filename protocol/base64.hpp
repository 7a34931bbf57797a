// Base64 as the SASL framing needs it. protocol/ stays free of Mbed TLS, so the
// engines take this interface; firmware/ implements it with Mbed TLS's codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace pigeon::protocol {

class Base64 {
 public:
  // Decoded length, or nullopt when `text` is not valid base64 or does not fit.
  virtual std::optional<std::size_t> decode(std::string_view text, std::span<std::uint8_t> out) const = 0;
  // Encoded length, or nullopt when it does not fit in `out`.
  virtual std::optional<std::size_t> encode(std::span<const std::uint8_t> bytes, std::span<char> out) const = 0;

 protected:
  ~Base64() = default;
};

}  // namespace pigeon::protocol
