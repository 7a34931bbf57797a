// Room for the Mbed TLS structures that TLS objects hold, without their types:
// tls_session.hpp, smarthost_tls.hpp, crypto_random.hpp and hmac_sha256.hpp
// (and so every session) see only these byte arrays; the TLS glue's .cpp files see the real
// types through tls_glue.hpp, which checks each size at compile time.
#pragma once

#include <cstddef>

namespace pigeon {

template <std::size_t Bytes>
struct alignas(8) OpaqueStorage {
  std::byte bytes[Bytes];
};

// Sizes as a fixed part plus a number of pointers, measured with Mbed TLS 3.6
// in the host (64-bit) and mps2-an385 (32-bit) configurations, so neither
// build carries unused bytes. A configuration that needs more fails to compile
// in tls_glue.hpp, which names the storage to raise. `abi_slack_bytes` covers
// ABIs that pad 64-bit fields differently (32-bit MIPS needs 4 more bytes in
// the configuration and the certificate than 32-bit ARM).
constexpr std::size_t pointer_bytes = sizeof(void*);
constexpr std::size_t abi_slack_bytes = 8;
using SslContextStorage = OpaqueStorage<32 + abi_slack_bytes + 46 * pointer_bytes>;   // mbedtls_ssl_context
using SslConfigStorage = OpaqueStorage<16 + abi_slack_bytes + 35 * pointer_bytes>;    // mbedtls_ssl_config
using SslSessionStorage = OpaqueStorage<440 + abi_slack_bytes + 6 * pointer_bytes>;   // mbedtls_ssl_session
using CertificateStorage = OpaqueStorage<64 + abi_slack_bytes + 85 * pointer_bytes>;  // mbedtls_x509_crt
using KeyStorage = OpaqueStorage<2 * pointer_bytes + abi_slack_bytes>;                // mbedtls_pk_context
using DrbgStorage = OpaqueStorage<296 + abi_slack_bytes + 6 * pointer_bytes>;         // mbedtls_ctr_drbg_context
using Sha256Storage = OpaqueStorage<108 + abi_slack_bytes>;                            // mbedtls_sha256_context
using TicketKeysStorage = OpaqueStorage<136 + abi_slack_bytes + 10 * pointer_bytes>;  // mbedtls_ssl_ticket_context

}  // namespace pigeon
