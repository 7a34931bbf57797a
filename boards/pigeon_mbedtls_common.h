/* What every board's Mbed TLS build holds: exactly what pigeon uses, nothing
 * from the stock configuration. Each board's pigeon_mbedtls_config.h includes
 * this and adds only what differs (its platform hooks, time source, and the
 * size/speed trade-offs of its tables and windows).
 *
 * What pigeon needs:
 *   - TLS 1.2 and 1.3, server (SMTP in, POP3) and client (the smarthost);
 *   - ECDHE key exchange (P-256, P-384) with ECDSA or RSA certificates;
 *   - AES-GCM and ChaCha20-Poly1305 only (no CBC, no RC4, no static RSA);
 *   - session tickets both ways (docs/security.md, "TLS session tickets");
 *   - X.509 parsing for verification, writing for the first-boot self-signed
 *     certificate; PEM both ways; PBKDF2-SHA256 for password hashes;
 *   - all memory from one static arena (docs/architecture.md §4), with its high-water mark. */
#ifndef PIGEON_MBEDTLS_COMMON_H
#define PIGEON_MBEDTLS_COMMON_H

/* Platform and memory: the arena allocator and its high-water mark. */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_MEMORY_DEBUG
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME /* certificate validity, ticket lifetimes */

/* Randomness: pigeon's CTR_DRBG is seeded from the entropy HAL, and PSA (TLS 1.3's
 * key schedule) draws from the same generator instead of its own entropy module
 * (firmware/crypto_random.cpp provides mbedtls_psa_external_get_random). */
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG

/* Symmetric ciphers and hashes. */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_PKCS5_C

/* Public keys: elliptic curves and RSA. */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21 /* RSA-PSS: the only RSA signatures of TLS 1.3 */
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C

/* Encodings and certificates. */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CREATE_C
#define MBEDTLS_X509_CRT_WRITE_C

/* TLS. */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_ENABLED /* psk_ke resumption: docs/security.md */
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
/* Session tickets both ways: the smarthost client resumes its sessions, and the
 * server issues tickets (TLS 1.2, RFC 5077; TLS 1.3 PSK) under keys drawn at
 * start and rotated (firmware/tls_session.cpp, docs/security.md). */
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_TICKET_C
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE /* public-key pinning reads the peer's key */
/* Peers may send full 16 KiB records (max_fragment_length is the peer's choice);
 * what pigeon sends it cuts into 4 KiB records, which saves 12 KiB per session. */
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#endif
