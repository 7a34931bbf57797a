/* Mbed TLS configuration for the host build: first version, the stock feature set
 * plus the static arena allocator. To be trimmed to what pigeon uses. */
#ifndef PIGEON_MBEDTLS_CONFIG_H
#define PIGEON_MBEDTLS_CONFIG_H

#include "mbedtls/mbedtls_config.h"

/* All of Mbed TLS's memory comes from one static arena (DESIGN.md §4). */
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_DEBUG

#endif
