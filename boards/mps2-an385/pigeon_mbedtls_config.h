/* Mbed TLS for mps2-an385: the common configuration
 * (boards/pigeon_mbedtls_common.h) with the board's platform hooks, its clocks,
 * and tables and windows trimmed for flash and RAM. No file system, sockets or
 * stdio. */
#ifndef PIGEON_MBEDTLS_CONFIG_H
#define PIGEON_MBEDTLS_CONFIG_H

#include "pigeon_mbedtls_common.h"

#define MBEDTLS_NO_PLATFORM_ENTROPY
/* Diagnostics and fatal exits of the allocator go to the board, not to stdio. */
#define MBEDTLS_PLATFORM_FPRINTF_MACRO pigeon_mbedtls_fprintf
#define MBEDTLS_PLATFORM_PRINTF_MACRO pigeon_mbedtls_printf
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO pigeon_mbedtls_snprintf
#define MBEDTLS_PLATFORM_EXIT_MACRO pigeon_mbedtls_exit
/* Until the arena is installed there is no allocator at all (never libc's). */
#define MBEDTLS_PLATFORM_STD_CALLOC pigeon_mbedtls_no_calloc
#define MBEDTLS_PLATFORM_STD_FREE pigeon_mbedtls_no_free
/* Ticket lifetimes and certificate validity from the board's clock. */
#define MBEDTLS_PLATFORM_TIME_MACRO pigeon_mbedtls_time
#define MBEDTLS_PLATFORM_MS_TIME_ALT
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
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_MPI_MAX_SIZE 512
#define MBEDTLS_SHA256_SMALLER

/* Left out so that IMAP fits the board's flash (docs/imap.md, "The board"; each
 * saving measured on the linked LTO image). Nothing a peer notices:
 *  - ChaCha20-Poly1305 (3,000 B): every TLS 1.3 peer has AES-128-GCM, and TLS 1.2
 *    peers that do ECDHE-ECDSA offer AES-GCM. The board's CPU notices where a
 *    client preferred ChaCha (Mbed TLS's do): its records cost more, and a TLS 1.3
 *    resumption with psk_ke about 2.3 instead of 1.1 million instructions;
 *  - AES decryption (1,868 B): GCM only ever encrypts;
 *  - PSA algorithms TLS 1.3 does not call (2,308 B; pigeon_psa_config.h);
 *  - X.509's descriptive strings (1,008 B), SHA-224 (428 B), encrypted private
 *    keys (PKCS#5, 176 B);
 *  - the smaller SHA-512 (1,708 B; a TLS 1.2 resumption with SHA-384 took
 *    124,000 instructions more);
 *  - ciphersuites other than the four below (912 B). AES-128-GCM first: with it a
 *    resumed TLS 1.2 handshake costs 758,720 instructions, with Mbed TLS's order
 *    (AES-256-GCM-SHA384 once ChaCha is gone) 1,285,120, with ChaCha 725,440.
 * What peers do notice: no RSA (10,252 B). The board's own key is P-256, so
 * clients see no difference, but the smarthost's certificate chain, or the key
 * pinned for it, must be ECDSA. */
#undef MBEDTLS_CHACHA20_C
#undef MBEDTLS_POLY1305_C
#undef MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_BLOCK_CIPHER_NO_DECRYPT
#define MBEDTLS_PSA_CRYPTO_CONFIG
#define MBEDTLS_PSA_CRYPTO_CONFIG_FILE "pigeon_psa_config.h"
#define MBEDTLS_X509_REMOVE_INFO
#undef MBEDTLS_SHA224_C
#undef MBEDTLS_PKCS5_C
#define MBEDTLS_SHA512_SMALLER
#define MBEDTLS_SSL_CIPHERSUITES                                                                   \
  MBEDTLS_TLS1_3_AES_128_GCM_SHA256, MBEDTLS_TLS1_3_AES_256_GCM_SHA384,                           \
      MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
#undef MBEDTLS_RSA_C
#undef MBEDTLS_PKCS1_V15
#undef MBEDTLS_PKCS1_V21
#undef MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED

#endif
