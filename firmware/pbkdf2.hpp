// PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) for one 32-byte block, cut into steps:
// the relay runs a bounded number of iterations per loop round, so that a
// login never stalls the other sessions (docs/architecture.md §3).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "hmac_sha256.hpp"

namespace pigeon {

class Pbkdf2Sha256 {
 public:
  // Keys the PRF with `password` and computes the first iteration from `salt`.
  // `iterations` is at least 1.
  void start(std::string_view password, std::span<const std::uint8_t> salt, std::uint32_t iterations);
  // Runs at most `max_iterations` further iterations; returns how many ran.
  std::uint32_t step(std::uint32_t max_iterations);
  bool done() const { return iterations_left_ == 0; }
  // The derived key, once done().
  const Sha256Digest& result() const { return sum_; }
  // Forgets the password's key states and the intermediate values.
  void wipe();

 private:
  HmacSha256 prf_;
  Sha256Digest block_{};  // U_i of RFC 8018 §5.2
  Sha256Digest sum_{};    // U_1 xor ... xor U_i
  std::uint32_t iterations_left_ = 0;
};

// Runs a whole derivation at once (password hashes made at start-up, tests).
Sha256Digest pbkdf2_sha256(std::string_view password, std::span<const std::uint8_t> salt,
                           std::uint32_t iterations);

}  // namespace pigeon
