// The TLS glue's view of tls_storage.hpp: the Mbed TLS type behind each opaque
// storage. Only the glue's .cpp files (TLS sessions, the smarthost's TLS client,
// the random generator, HMAC-SHA256) include this header, and with it Mbed TLS.
#pragma once

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include <new>

#include "tls_storage.hpp"

namespace pigeon::tls_glue {

template <typename MbedType, std::size_t Bytes>
MbedType& as(OpaqueStorage<Bytes>& storage) {
  static_assert(sizeof(MbedType) <= Bytes, "this Mbed TLS configuration needs more room: see tls_storage.hpp");
  static_assert(alignof(MbedType) <= alignof(OpaqueStorage<Bytes>));
  return *std::launder(reinterpret_cast<MbedType*>(storage.bytes));
}

template <typename MbedType, std::size_t Bytes>
const MbedType& as(const OpaqueStorage<Bytes>& storage) {
  return as<MbedType>(const_cast<OpaqueStorage<Bytes>&>(storage));
}

inline mbedtls_ssl_context& ssl(SslContextStorage& s) { return as<mbedtls_ssl_context>(s); }
inline const mbedtls_ssl_context& ssl(const SslContextStorage& s) { return as<mbedtls_ssl_context>(s); }
inline mbedtls_ssl_config& config(SslConfigStorage& s) { return as<mbedtls_ssl_config>(s); }
inline const mbedtls_ssl_config& config(const SslConfigStorage& s) { return as<mbedtls_ssl_config>(s); }
inline mbedtls_ssl_session& session(SslSessionStorage& s) { return as<mbedtls_ssl_session>(s); }
inline mbedtls_ssl_ticket_context& ticket_keys(TicketKeysStorage& s) { return as<mbedtls_ssl_ticket_context>(s); }
inline mbedtls_x509_crt& certificate(CertificateStorage& s) { return as<mbedtls_x509_crt>(s); }
inline mbedtls_pk_context& key(KeyStorage& s) { return as<mbedtls_pk_context>(s); }
inline mbedtls_ctr_drbg_context& drbg(DrbgStorage& s) { return as<mbedtls_ctr_drbg_context>(s); }
inline mbedtls_sha256_context& sha256(Sha256Storage& s) { return as<mbedtls_sha256_context>(s); }
inline const mbedtls_sha256_context& sha256(const Sha256Storage& s) { return as<mbedtls_sha256_context>(s); }

}  // namespace pigeon::tls_glue
