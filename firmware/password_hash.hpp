// Password hashes for the configuration: PBKDF2-HMAC-SHA256 in the text form
// "$pbkdf2-sha256$i=<iterations>$<salt base64>$<hash base64>".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "crypto_random.hpp"
#include "hmac_sha256.hpp"

namespace pigeon {

inline constexpr std::uint32_t default_pbkdf2_iterations = 20000;

// Writes a hash of `password` with a fresh 16-byte salt; its length, or nullopt.
std::optional<std::size_t> make_password_hash(CryptoRandom& random, std::string_view password,
                                              std::span<char> out,
                                              std::uint32_t iterations = default_pbkdf2_iterations);
// A hash line taken apart, for a check that runs in steps (login_service.hpp).
struct PasswordHash {
  std::uint32_t iterations = 0;
  std::array<std::uint8_t, 64> salt{};
  std::size_t salt_bytes = 0;
  Sha256Digest expected{};

  std::span<const std::uint8_t> salt_view() const { return {salt.data(), salt_bytes}; }
};
// nullopt when the line is not a hash of this form.
std::optional<PasswordHash> parse_password_hash(std::string_view hash_line);
// True when `password` matches `hash_line` (compared in constant time); the
// whole derivation at once.
bool verify_password(std::string_view password, std::string_view hash_line);
// A random password of `out.size()` characters from an alphabet without
// look-alikes (no 0/O, 1/l/I); returns its length.
std::size_t generate_password(CryptoRandom& random, std::span<char> out);

}  // namespace pigeon
