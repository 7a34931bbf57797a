#include "sasl.hpp"

#include <algorithm>

#include "base64.hpp"

namespace pigeon::protocol {
namespace {

constexpr std::size_t max_field_bytes = 255;

std::string_view as_view(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

std::optional<SaslPlain> parse_sasl_plain(std::span<const std::uint8_t> message) {
  const auto first_nul = std::find(message.begin(), message.end(), std::uint8_t{0});
  if (first_nul == message.end()) return std::nullopt;
  const auto second_nul = std::find(first_nul + 1, message.end(), std::uint8_t{0});
  if (second_nul == message.end()) return std::nullopt;
  if (std::find(second_nul + 1, message.end(), std::uint8_t{0}) != message.end()) {
    return std::nullopt;
  }
  const SaslPlain plain{
      as_view({message.begin(), first_nul}),
      as_view({first_nul + 1, second_nul}),
      as_view({second_nul + 1, message.end()}),
  };
  if (plain.authcid.empty() || plain.password.empty()) return std::nullopt;
  if (plain.authzid.size() > max_field_bytes || plain.authcid.size() > max_field_bytes ||
      plain.password.size() > max_field_bytes) {
    return std::nullopt;
  }
  return plain;
}

std::optional<SaslPlain> decode_sasl_plain(std::string_view response,
                                           std::span<std::uint8_t, max_sasl_plain_bytes> buffer) {
  const auto length = response == "=" ? std::optional<std::size_t>(0) : base64::decode(response, buffer);
  return length ? parse_sasl_plain(buffer.first(*length)) : std::nullopt;
}

}  // namespace pigeon::protocol
