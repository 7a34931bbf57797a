// HMAC-SHA256 (RFC 2104) with the key absorbed once: the states after the
// padded key's inner and outer blocks are kept, so each MAC of a short message
// costs two SHA-256 compressions instead of four. PBKDF2 (pbkdf2.hpp) runs
// thousands of MACs under one key; the credential cache keys its tags with it.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "tls_storage.hpp"

namespace pigeon {

inline constexpr std::size_t sha256_bytes = 32;
using Sha256Digest = std::array<std::uint8_t, sha256_bytes>;

class HmacSha256 {
 public:
  HmacSha256();
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // Any length; a key longer than a block is hashed first (RFC 2104 §2).
  void set_key(std::span<const std::uint8_t> key);
  // The MAC of the concatenated parts under the key.
  void mac(std::initializer_list<std::span<const std::uint8_t>> message, Sha256Digest& out) const;
  // Zeroes the key states (they would let anyone compute MACs).
  void wipe();

 private:
  Sha256Storage inner_;
  Sha256Storage outer_;
};

// Compares two digests in time that does not depend on where they differ.
bool digests_equal(const Sha256Digest& a, const Sha256Digest& b);

}  // namespace pigeon
