// The protocol engines' Base64 interface, served by Mbed TLS's codec.
#pragma once

#include "protocol/base64.hpp"

namespace pigeon {

class MbedtlsBase64 final : public protocol::Base64 {
 public:
  std::optional<std::size_t> decode(std::string_view text, std::span<std::uint8_t> out) const override;
  std::optional<std::size_t> encode(std::span<const std::uint8_t> bytes, std::span<char> out) const override;
};

}  // namespace pigeon
