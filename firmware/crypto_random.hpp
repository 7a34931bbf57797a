// The one random generator of the relay: CTR_DRBG seeded from the entropy HAL.
// TLS, key generation, salts and generated passwords all draw from it.
#pragma once

#include <cstdint>
#include <span>

#include "hal/entropy.hpp"
#include "tls_storage.hpp"

namespace pigeon {

class CryptoRandom {
 public:
  explicit CryptoRandom(hal::Entropy& entropy);
  ~CryptoRandom();
  CryptoRandom(const CryptoRandom&) = delete;
  CryptoRandom& operator=(const CryptoRandom&) = delete;

  // False when seeding failed: nothing may then use randomness.
  bool ready() const { return ready_; }
  bool fill(std::span<std::uint8_t> out);

  // For Mbed TLS APIs that take (f_rng, p_rng).
  static int generate(void* self, unsigned char* out, std::size_t length);
  void* context() { return this; }

 private:
  static int read_entropy(void* entropy, unsigned char* out, std::size_t length);
  friend struct PsaRandomSource;  // crypto_random.cpp

  DrbgStorage drbg_;
  bool ready_ = false;
  // The generators alive in the process, newest first: PSA draws from the
  // newest, and falls back to the one before when it ends.
  CryptoRandom* older_ = nullptr;
  CryptoRandom* newer_ = nullptr;
};

}  // namespace pigeon
