// The server's own key and self-signed certificate, made on first start as a
// router does on its first boot: ECDSA P-256, CN and subjectAltName = host name
// (and "localhost"), valid for ten years.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "crypto_random.hpp"

namespace pigeon {

struct ServerIdentityPem {
  std::span<char> key;   // out: PEM private key
  std::span<char> cert;  // out: PEM certificate
  std::size_t key_length = 0;
  std::size_t cert_length = 0;
};

bool generate_server_identity(CryptoRandom& random, std::string_view host_name,
                              std::int64_t now_unix_s, ServerIdentityPem& out);

// "AB:CD:...": 32 bytes in hex, colon-separated, as `openssl x509 -fingerprint
// -sha256` and mail clients show a certificate.
inline constexpr std::size_t fingerprint_chars = 32 * 3 - 1;

// The SHA-256 fingerprint of the first certificate in `cert_pem` (of its DER
// bytes), written into `out`; nullopt when the PEM holds no readable certificate.
std::optional<std::string_view> certificate_fingerprint(std::string_view cert_pem,
                                                        std::span<char, fingerprint_chars> out);

}  // namespace pigeon
