/* A transparent PSA driver with one entry point: the public key of an X25519
 * key pair, computed by Project Everest's verified Curve25519 (shipped with
 * Mbed TLS in 3rdparty/everest) instead of Mbed TLS's generic Montgomery ladder.
 *
 * Why: a TLS 1.3 server makes an ephemeral X25519 key for every full handshake
 * and for every resumption with psa_dhe_ke. Mbed TLS 3.6 generates it through
 * PSA, whose export of the public key runs mbedtls_ecp_mul on the ladder: 7.35
 * million instructions of a 12.85 million handshake on the host. Everest already
 * computes the shared secret (MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED), but only
 * the legacy ECDH context reaches it, never PSA's key export.
 *
 * tools/cmake/mbedtls.cmake has Mbed TLS's generator write the dispatch code
 * with this driver (psa_x25519_driver.json) for the host board's library. */
#ifndef PIGEON_PSA_X25519_DRIVER_H
#define PIGEON_PSA_X25519_DRIVER_H

#include <psa/crypto.h>

#ifndef PSA_CRYPTO_ACCELERATOR_DRIVER_PRESENT
#define PSA_CRYPTO_ACCELERATOR_DRIVER_PRESENT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 7748 X25519(k, 9) of a 255-bit Montgomery key pair's 32-byte private key
 * `key_buffer`, written little-endian into `data`. PSA_ERROR_NOT_SUPPORTED for
 * any other key, so that Mbed TLS's own code serves it. */
psa_status_t pigeon_x25519_transparent_export_public_key(const psa_key_attributes_t *attributes,
                                                         const uint8_t *key_buffer, size_t key_buffer_size,
                                                         uint8_t *data, size_t data_size, size_t *data_length);

#ifdef __cplusplus
}
#endif

#endif
