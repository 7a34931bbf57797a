#include "credential_cache.hpp"

#include <algorithm>

namespace pigeon {

bool CredentialCache::start(CryptoRandom& random) {
  std::array<std::uint8_t, sha256_bytes> key{};
  if (!random.fill(key)) return false;
  key_.set_key(key);
  key.fill(0);
  return true;
}

Sha256Digest CredentialCache::tag(std::string_view name, std::string_view password) const {
  // The name's length first, so that no two (name, password) pairs share a message.
  const std::array<std::uint8_t, 2> name_length{static_cast<std::uint8_t>(name.size() >> 8),
                                                static_cast<std::uint8_t>(name.size())};
  Sha256Digest out{};
  key_.mac({name_length,
            {reinterpret_cast<const std::uint8_t*>(name.data()), name.size()},
            {reinterpret_cast<const std::uint8_t*>(password.data()), password.size()}},
           out);
  return out;
}

bool CredentialCache::contains(const Sha256Digest& tag, std::uint64_t now_ms, std::uint64_t lifetime_ms) const {
  bool found = false;
  for (const Entry& entry : entries_) {
    const bool fresh = entry.used && now_ms - entry.verified_ms < lifetime_ms;
    found |= digests_equal(entry.tag, tag) & fresh;
  }
  return found;
}

void CredentialCache::insert(const Sha256Digest& tag, std::uint64_t now_ms) {
  // An expired entry of the same credential is renewed rather than repeated.
  auto same = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& entry) { return entry.used && digests_equal(entry.tag, tag); });
  if (same == entries_.end()) {
    same = std::min_element(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
      return a.used != b.used ? !a.used : a.verified_ms < b.verified_ms;
    });
  }
  *same = Entry{tag, now_ms, true};
}

}  // namespace pigeon
