/* Mbed TLS for the host and the router builds: the common configuration
 * (boards/pigeon_mbedtls_common.h) with the default tables and windows, the
 * words for every error, files, calendar time and X25519. */
#ifndef PIGEON_MBEDTLS_CONFIG_H
#define PIGEON_MBEDTLS_CONFIG_H

#include "pigeon_mbedtls_common.h"

/* The arena hands out blocks aligned for any type of this machine (the default,
 * 4, gives misaligned 8-byte loads on a 64-bit host, which UBSan reports). */
#define MBEDTLS_MEMORY_ALIGN_MULTIPLE 16
#define MBEDTLS_HAVE_TIME_DATE
#define MBEDTLS_ERROR_C
#define MBEDTLS_FS_IO /* the host reads the smarthost CA file at start-up */
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
/* X25519 is the key share OpenSSL and most clients offer first, so it is the
 * ECDHE of nearly every full TLS 1.3 handshake. Mbed TLS's own ladder (generic
 * bignums) costs 7.5 million instructions per scalar multiplication, 39% of a
 * handshake; Project Everest's verified 64-bit code computes the shared secret
 * in a small fraction of that (docs/testing.md, "Where a full handshake goes").
 * The ephemeral key itself is still made by the ladder: PSA generates it
 * through mbedtls_ecp_mul. Everest is Apache-2.0 only, as Mbed TLS is here. */
#define MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED
/* The record layer's AES-GCM on an x86-64 host: AES-NI and PCLMULQDQ when the
 * CPU has them (Mbed TLS asks cpuid once, and falls back to its tables when
 * not). Software AES and GHASH were 64% of the relay's CPU in a bulk IMAP
 * FETCH over TLS (docs/testing.md). On the router builds' CPUs it compiles to
 * nothing. */
#define MBEDTLS_AESNI_C

#endif
