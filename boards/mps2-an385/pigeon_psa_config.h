/* The PSA algorithms of mps2-an385's Mbed TLS (MBEDTLS_PSA_CRYPTO_CONFIG): only
 * what TLS 1.3 calls through PSA, its key schedule (HKDF over HMAC with SHA-256
 * or SHA-384) and its ECDHE key shares. Signatures, record protection and TLS
 * 1.2 go through the classic modules of pigeon_mbedtls_config.h. Without this
 * file PSA would build in every algorithm those modules allow. */
#ifndef PIGEON_PSA_CONFIG_H
#define PIGEON_PSA_CONFIG_H

#define PSA_WANT_ALG_SHA_256 1
#define PSA_WANT_ALG_SHA_384 1
#define PSA_WANT_ALG_HMAC 1
#define PSA_WANT_ALG_HKDF 1
#define PSA_WANT_ALG_HKDF_EXTRACT 1
#define PSA_WANT_ALG_HKDF_EXPAND 1
#define PSA_WANT_ALG_ECDH 1
#define PSA_WANT_ECC_SECP_R1_256 1
#define PSA_WANT_ECC_SECP_R1_384 1
#define PSA_WANT_KEY_TYPE_ECC_PUBLIC_KEY 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_BASIC 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_IMPORT 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_EXPORT 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_GENERATE 1
#define PSA_WANT_KEY_TYPE_DERIVE 1
#define PSA_WANT_KEY_TYPE_HMAC 1

#endif
