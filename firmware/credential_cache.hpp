// Credentials verified recently, so that a device that logs in every minute
// does not pay a whole PBKDF2 derivation each time (docs/security.md). An
// entry is the HMAC-SHA256 of the user name and password under a key drawn at
// boot: a memory dump shows no password, only tags (with the key beside them,
// a guess costs one HMAC instead of a derivation, which is why entries expire
// and the cache can be turned off). Tags are compared in constant time, and
// only successful logins are cached.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "crypto_random.hpp"
#include "hmac_sha256.hpp"
#include "pigeon_limits.hpp"

namespace pigeon {

class CredentialCache {
 public:
  // Draws the key. False without randomness.
  bool start(CryptoRandom& random);
  Sha256Digest tag(std::string_view name, std::string_view password) const;
  // True when `tag` was verified less than `lifetime_ms` ago. Every entry is compared.
  bool contains(const Sha256Digest& tag, std::uint64_t now_ms, std::uint64_t lifetime_ms) const;
  // Remembers a verified tag in place of the oldest entry.
  void insert(const Sha256Digest& tag, std::uint64_t now_ms);

 private:
  struct Entry {
    Sha256Digest tag{};
    std::uint64_t verified_ms = 0;
    bool used = false;
  };

  HmacSha256 key_;
  std::array<Entry, PIGEON_LOGIN_CACHE_ENTRIES> entries_{};
};

}  // namespace pigeon
