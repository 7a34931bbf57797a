// The server's own key and self-signed certificate, made on first start as a
// router does on its first boot: ECDSA P-256, CN and subjectAltName = host name
// (and "localhost"), valid for ten years.
#pragma once

#include <cstdint>
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

}  // namespace pigeon
