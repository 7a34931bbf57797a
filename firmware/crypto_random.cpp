#include "crypto_random.hpp"

#include <psa/crypto.h>

#include "tls_glue.hpp"

namespace pigeon {
namespace {

// PSA (TLS 1.3's key schedule) has no entropy source of its own in pigeon's
// Mbed TLS configuration (MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG): it draws from the
// relay's one generator, so every board's entropy HAL feeds all of TLS.
// A process may hold several generators at once (the host simulator's world
// of relays and clients, a temporary one at first start): PSA draws from the
// newest one alive. When that one ends, the one before it takes over, so the
// end of one (a simulated relay's power cut) never leaves the others' TLS 1.3
// handshakes without randomness.
CryptoRandom* newest_generator = nullptr;

}  // namespace

struct PsaRandomSource {
  static CryptoRandom* current() { return newest_generator; }
  static void join(CryptoRandom& random) {
    random.older_ = newest_generator;
    if (newest_generator != nullptr) newest_generator->newer_ = &random;
    newest_generator = &random;
  }
  static void leave(CryptoRandom& random) {
    if (random.older_ != nullptr) random.older_->newer_ = random.newer_;
    if (random.newer_ != nullptr) random.newer_->older_ = random.older_;
    if (newest_generator == &random) newest_generator = random.older_;
  }
};

CryptoRandom::CryptoRandom(hal::Entropy& entropy) {
  mbedtls_ctr_drbg_init(&tls_glue::drbg(drbg_));
  static constexpr unsigned char personalisation[] = "pigeon relay";
  ready_ = mbedtls_ctr_drbg_seed(&tls_glue::drbg(drbg_), read_entropy, &entropy, personalisation,
                                 sizeof personalisation - 1) == 0;
  if (ready_) PsaRandomSource::join(*this);
}

CryptoRandom::~CryptoRandom() {
  if (ready_) PsaRandomSource::leave(*this);
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
  pigeon::CryptoRandom* source = pigeon::PsaRandomSource::current();
  if (source == nullptr || !source->fill({output, output_size})) {
    return PSA_ERROR_INSUFFICIENT_ENTROPY;
  }
  *output_length = output_size;
  return PSA_SUCCESS;
}
