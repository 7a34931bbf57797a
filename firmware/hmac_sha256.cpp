#include "hmac_sha256.hpp"

// constant_time.h lacks the extern "C" guard of the other Mbed TLS headers.
extern "C" {
#include <mbedtls/constant_time.h>
}
#include <mbedtls/platform_util.h>

#include <algorithm>

#include "protocol/assert.hpp"
#include "tls_glue.hpp"

namespace pigeon {
namespace {

constexpr std::size_t block_bytes = 64;

// Without MBEDTLS_SHA256_ALT these fail only on misuse (a null pointer).
void check(int status) { PIGEON_ASSERT(status == 0); }

void start_with_pad(mbedtls_sha256_context& context, const std::array<std::uint8_t, block_bytes>& key,
                    std::uint8_t pad) {
  std::array<std::uint8_t, block_bytes> block{};
  for (std::size_t i = 0; i < block_bytes; ++i) block[i] = key[i] ^ pad;
  check(mbedtls_sha256_starts(&context, 0));
  check(mbedtls_sha256_update(&context, block.data(), block.size()));
  mbedtls_platform_zeroize(block.data(), block.size());
}

}  // namespace

HmacSha256::HmacSha256() {
  mbedtls_sha256_init(&tls_glue::sha256(inner_));
  mbedtls_sha256_init(&tls_glue::sha256(outer_));
}

HmacSha256::~HmacSha256() { wipe(); }

void HmacSha256::set_key(std::span<const std::uint8_t> key) {
  std::array<std::uint8_t, block_bytes> padded{};
  if (key.size() > block_bytes) {
    check(mbedtls_sha256(key.data(), key.size(), padded.data(), 0));
  } else {
    std::copy(key.begin(), key.end(), padded.begin());
  }
  start_with_pad(tls_glue::sha256(inner_), padded, 0x36);
  start_with_pad(tls_glue::sha256(outer_), padded, 0x5c);
  mbedtls_platform_zeroize(padded.data(), padded.size());
}

void HmacSha256::mac(std::initializer_list<std::span<const std::uint8_t>> message, Sha256Digest& out) const {
  mbedtls_sha256_context context;
  mbedtls_sha256_init(&context);
  mbedtls_sha256_clone(&context, &tls_glue::sha256(inner_));
  for (const auto part : message) check(mbedtls_sha256_update(&context, part.data(), part.size()));
  Sha256Digest inner_digest{};
  check(mbedtls_sha256_finish(&context, inner_digest.data()));
  mbedtls_sha256_clone(&context, &tls_glue::sha256(outer_));
  check(mbedtls_sha256_update(&context, inner_digest.data(), inner_digest.size()));
  check(mbedtls_sha256_finish(&context, out.data()));
  mbedtls_sha256_free(&context);
}

void HmacSha256::wipe() {
  mbedtls_sha256_free(&tls_glue::sha256(inner_));
  mbedtls_sha256_free(&tls_glue::sha256(outer_));
}

bool digests_equal(const Sha256Digest& a, const Sha256Digest& b) {
  return mbedtls_ct_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace pigeon
