#include "psa_x25519_driver.h"

#include <string.h>

#include <mbedtls/platform_util.h>

/* Everest's header declares 128-bit integers: the compiler's own where it has
 * them, Everest's verified pair of 64-bit halves where it has not (32-bit MIPS
 * and ARM), as its library was built (Hacl_Curve25519_joined.c). */
#if !(defined(__SIZEOF_INT128__) && __SIZEOF_INT128__ == 16)
#define KRML_VERIFIED_UINT128
#endif
#include "Hacl_Curve25519.h"

enum { x25519_key_bytes = 32 };

psa_status_t pigeon_x25519_transparent_export_public_key(const psa_key_attributes_t *attributes,
                                                         const uint8_t *key_buffer, size_t key_buffer_size,
                                                         uint8_t *data, size_t data_size, size_t *data_length) {
  if (psa_get_key_type(attributes) != PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY) ||
      psa_get_key_bits(attributes) != 255) {
    return PSA_ERROR_NOT_SUPPORTED;
  }
  if (key_buffer_size != x25519_key_bytes) return PSA_ERROR_INVALID_ARGUMENT;
  if (data_size < x25519_key_bytes) return PSA_ERROR_BUFFER_TOO_SMALL;
  /* The u-coordinate of the base point (RFC 7748 section 4.1). Everest's
   * interface takes non-const buffers; it clamps a copy of the scalar and
   * changes neither input. */
  uint8_t base_point[x25519_key_bytes] = {9};
  uint8_t scalar[x25519_key_bytes];
  memcpy(scalar, key_buffer, sizeof scalar);
  Hacl_Curve25519_crypto_scalarmult(data, scalar, base_point);
  mbedtls_platform_zeroize(scalar, sizeof scalar);
  *data_length = x25519_key_bytes;
  return PSA_SUCCESS;
}
