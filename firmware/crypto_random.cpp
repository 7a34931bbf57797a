#include "crypto_random.hpp"

#include <psa/crypto.h>

#include "tls_glue.hpp"

namespace pigeon {
namespace {

// PSA (TLS 1.3's key schedule) has no entropy source of its own in pigeon's
// Mbed TLS configuration (MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG): it draws from the
// relay's one generator, so every board's entropy HAL feeds all of TLS.
CryptoRandom* psa_random_source = nullptr;

}  // namespace

CryptoRandom::CryptoRandom(hal::Entropy& entropy) {
  mbedtls_ctr_drbg_init(&tls_glue::drbg(drbg_));
  static constexpr unsigned char personalisation[] = "pigeon relay";
  ready_ = mbedtls_ctr_drbg_seed(&tls_glue::drbg(drbg_), read_entropy, &entropy, personalisation,
                                 sizeof personalisation - 1) == 0;
  if (ready_) psa_random_source = this;
}

CryptoRandom::~CryptoRandom() {
  if (psa_random_source == this) psa_random_source = nullptr;
  mbedtls_ctr_drbg_free(&tls_glue::drbg(drbg_));
}

int CryptoRandom::read_entropy(void* entropy, unsigned char* out, std::size_t length) {
  return static_cast<hal::Entropy*>(entropy)->fill({out, length}) ? 0 : -1;
}

bool CryptoRandom::fill(std::span<std::uint8_t> out) {
  return ready_ && mbedtls_ctr_drbg_random(&tls_glue::drbg(drbg_), out.data(), out.size()) == 0;
}

int CryptoRandom::generate(void* self, unsigned char* out, std::size_t length) {
  return static_cast<CryptoRandom*>(self)->fill({out, length}) ? 0 : -1;
}

}  // namespace pigeon

extern "C" psa_status_t mbedtls_psa_external_get_random(mbedtls_psa_external_random_context_t*,
                                                        std::uint8_t* output, std::size_t output_size,
                                                        std::size_t* output_length) {
  *output_length = 0;
  if (pigeon::psa_random_source == nullptr ||
      !pigeon::psa_random_source->fill({output, output_size})) {
    return PSA_ERROR_INSUFFICIENT_ENTROPY;
  }
  *output_length = output_size;
  return PSA_SUCCESS;
}
