#include "crypto_random.hpp"

namespace pigeon {

CryptoRandom::CryptoRandom(hal::Entropy& entropy) {
  mbedtls_ctr_drbg_init(&drbg_);
  static constexpr unsigned char personalisation[] = "pigeon relay";
  ready_ = mbedtls_ctr_drbg_seed(&drbg_, read_entropy, &entropy, personalisation,
                                 sizeof personalisation - 1) == 0;
}

CryptoRandom::~CryptoRandom() { mbedtls_ctr_drbg_free(&drbg_); }

int CryptoRandom::read_entropy(void* entropy, unsigned char* out, std::size_t length) {
  return static_cast<hal::Entropy*>(entropy)->fill({out, length}) ? 0 : -1;
}

bool CryptoRandom::fill(std::span<std::uint8_t> out) {
  return ready_ && mbedtls_ctr_drbg_random(&drbg_, out.data(), out.size()) == 0;
}

int CryptoRandom::generate(void* self, unsigned char* out, std::size_t length) {
  return static_cast<CryptoRandom*>(self)->fill({out, length}) ? 0 : -1;
}

}  // namespace pigeon
