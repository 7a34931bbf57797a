/* Mbed TLS for mps2-an385: TLS 1.2 and 1.3, server and client, ECDHE-ECDSA (our P-256
 * identity) and ECDHE-RSA (smarthosts with RSA certificates), AES-GCM and
 * ChaCha20-Poly1305, X.509 parsing and writing (the certificate made at first
 * boot), PBKDF2 for password hashes. Memory only from the static arena; no
 * file system, sockets, time source or stdio. */
#ifndef PIGEON_MBEDTLS_CONFIG_H
#define PIGEON_MBEDTLS_CONFIG_H

#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_MEMORY_DEBUG /* the arena's high-water mark */
#define MBEDTLS_NO_PLATFORM_ENTROPY
/* Diagnostics and fatal exits of the allocator go to the board, not to stdio. */
#define MBEDTLS_PLATFORM_FPRINTF_MACRO pigeon_mbedtls_fprintf
#define MBEDTLS_PLATFORM_PRINTF_MACRO pigeon_mbedtls_printf
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO pigeon_mbedtls_snprintf
#define MBEDTLS_PLATFORM_EXIT_MACRO pigeon_mbedtls_exit
/* Until the arena is installed there is no allocator at all (never libc's). */
#define MBEDTLS_PLATFORM_STD_CALLOC pigeon_mbedtls_no_calloc
#define MBEDTLS_PLATFORM_STD_FREE pigeon_mbedtls_no_free
#include <stddef.h>
#include <stdio.h>
#ifdef __cplusplus
extern "C" {
#endif
int pigeon_mbedtls_fprintf(FILE* stream, const char* format, ...);
int pigeon_mbedtls_printf(const char* format, ...);
int pigeon_mbedtls_snprintf(char* out, size_t size, const char* format, ...);
void pigeon_mbedtls_exit(int status);
void* pigeon_mbedtls_no_calloc(size_t count, size_t size);
void pigeon_mbedtls_no_free(void* block);
#include <time.h>
time_t pigeon_mbedtls_time(time_t* out);
#ifdef __cplusplus
}
#endif

/* No MBEDTLS_ERROR_C: its words for every error cost 13 KB of flash; the log
   keeps the error code (firmware/tls_session.cpp). */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_MPI_MAX_SIZE 512
#define MBEDTLS_MPI_WINDOW_SIZE 2
#define MBEDTLS_SHA256_SMALLER

#define MBEDTLS_AES_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CTR_DRBG_C
/* PSA draws from the relay's generator (firmware/crypto_random.cpp). */
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C /* X.509 subject key identifiers only */
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_PKCS5_C
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_OID_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CREATE_C
#define MBEDTLS_X509_CRT_WRITE_C

#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_ENABLED /* psk_ke resumption: docs/security.md */
/* Session tickets both ways: the smarthost client resumes its sessions, and the
 * server issues tickets (TLS 1.2, RFC 5077; TLS 1.3 PSK) under keys drawn at
 * start and rotated (firmware/tls_session.cpp, docs/security.md). */
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_TICKET_C
#define MBEDTLS_HAVE_TIME /* ticket lifetimes, from the board's clock */
#define MBEDTLS_PLATFORM_TIME_MACRO pigeon_mbedtls_time
#define MBEDTLS_PLATFORM_MS_TIME_ALT
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE /* public-key pinning reads the peer's key */
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
/* Peers may send full 16 KiB records; our own records stay at 4 KiB. */
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#endif
