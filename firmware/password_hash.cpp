#include "password_hash.hpp"

#include <algorithm>
#include <array>

#include "hal/text_format.hpp"
#include "pbkdf2.hpp"
#include "protocol/base64.hpp"
#include "text.hpp"

namespace pigeon {
namespace {

constexpr std::string_view prefix = "$pbkdf2-sha256$i=";
constexpr std::size_t salt_bytes = 16;
constexpr std::uint32_t max_iterations = 10'000'000;

}  // namespace

std::optional<std::size_t> make_password_hash(CryptoRandom& random, std::string_view password,
                                              std::span<char> out, std::uint32_t iterations) {
  std::array<std::uint8_t, salt_bytes> salt{};
  if (iterations == 0 || !random.fill(salt)) return std::nullopt;
  const Sha256Digest hash = pbkdf2_sha256(password, salt, iterations);
  std::array<char, 48> salt_text{};
  std::array<char, 48> hash_text{};
  const auto salt_length = protocol::base64::encode(salt, salt_text);
  const auto hash_length = protocol::base64::encode(hash, hash_text);
  if (!salt_length || !hash_length) return std::nullopt;
  const int used = hal::format_text(out.data(), out.size(), "%.*s%u$%.*s$%.*s", static_cast<int>(prefix.size()),
                                 prefix.data(), static_cast<unsigned>(iterations), static_cast<int>(*salt_length),
                                 salt_text.data(), static_cast<int>(*hash_length), hash_text.data());
  if (used <= 0 || static_cast<std::size_t>(used) >= out.size()) return std::nullopt;
  return static_cast<std::size_t>(used);
}

std::optional<PasswordHash> parse_password_hash(std::string_view hash_line) {
  if (!hash_line.starts_with(prefix)) return std::nullopt;
  hash_line.remove_prefix(prefix.size());
  const std::size_t first = hash_line.find('$');
  const std::size_t second = hash_line.find('$', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos) return std::nullopt;
  const auto iterations = text::parse_u32(hash_line.substr(0, first));
  PasswordHash hash;
  std::array<std::uint8_t, 64> expected{};
  const auto salt_length = protocol::base64::decode(hash_line.substr(first + 1, second - first - 1), hash.salt);
  const auto expected_length = protocol::base64::decode(hash_line.substr(second + 1), expected);
  if (!iterations || *iterations == 0 || *iterations > max_iterations || !salt_length ||
      expected_length != hash.expected.size()) {
    return std::nullopt;
  }
  hash.iterations = *iterations;
  hash.salt_bytes = *salt_length;
  std::copy_n(expected.begin(), hash.expected.size(), hash.expected.begin());
  return hash;
}

bool verify_password(std::string_view password, std::string_view hash_line) {
  const std::optional<PasswordHash> hash = parse_password_hash(hash_line);
  return hash && digests_equal(pbkdf2_sha256(password, hash->salt_view(), hash->iterations), hash->expected);
}

std::size_t generate_password(CryptoRandom& random, std::span<char> out) {
  constexpr std::string_view alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::size_t written = 0;
  while (written < out.size()) {
    std::array<std::uint8_t, 32> bytes{};
    if (!random.fill(bytes)) return 0;
    for (std::uint8_t byte : bytes) {
      // Rejection sampling keeps every character equally likely.
      if (byte >= 256 / alphabet.size() * alphabet.size() || written == out.size()) continue;
      out[written++] = alphabet[byte % alphabet.size()];
    }
  }
  return written;
}

}  // namespace pigeon
