#include "base64_mbedtls.hpp"

#include <mbedtls/base64.h>

namespace pigeon {

std::optional<std::size_t> MbedtlsBase64::decode(std::string_view text,
                                                 std::span<std::uint8_t> out) const {
  std::size_t written = 0;
  const int rc = mbedtls_base64_decode(out.data(), out.size(), &written,
                                       reinterpret_cast<const unsigned char*>(text.data()),
                                       text.size());
  if (rc != 0) return std::nullopt;
  return written;
}

std::optional<std::size_t> MbedtlsBase64::encode(std::span<const std::uint8_t> bytes,
                                                 std::span<char> out) const {
  std::size_t written = 0;
  // Mbed TLS writes a terminating NUL, which is not part of the encoding.
  const int rc = mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                       &written, bytes.data(), bytes.size());
  if (rc != 0) return std::nullopt;
  return written;
}

}  // namespace pigeon
