#include "server_identity.hpp"

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <cstring>

#include "hal/text_format.hpp"
#include "pigeon_limits.hpp"
#include "protocol/base64.hpp"
#include "protocol/rfc5322.hpp"

namespace pigeon {
namespace {

constexpr std::int64_t validity_s = 10LL * 365 * 86400;

// X.509 validity as Mbed TLS wants it: "YYYYMMDDHHMMSS", from the RFC 5322 date.
bool x509_time(std::int64_t unix_s, std::array<char, 16>& out) {
  std::array<char, 32> date{};
  const std::string_view text = protocol::format_date(unix_s, date);  // "Sun, 22 Nov 2026 14:42:33 +0000"
  if (text.size() < 25) return false;
  constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const auto month = static_cast<unsigned>(months.find(text.substr(8, 3)) / 3 % 12 + 1);
  hal::format_text(out.data(), out.size(), "%.4s%02u%.2s%.2s%.2s%.2s", text.data() + 12, month,
                text.data() + 5, text.data() + 17, text.data() + 20, text.data() + 23);
  return true;
}

// Self-owned Mbed TLS objects, freed on every path.
struct WriteContext {
  mbedtls_pk_context key;
  mbedtls_x509write_cert cert;
  WriteContext() {
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&cert);
  }
  ~WriteContext() {
    mbedtls_x509write_crt_free(&cert);
    mbedtls_pk_free(&key);
  }
};

bool set_names(mbedtls_x509write_cert& cert, std::string_view host_name) {
  char subject[300];
  hal::format_text(subject, sizeof subject, "CN=%.*s,O=pigeon", static_cast<int>(host_name.size()),
                host_name.data());
  if (mbedtls_x509write_crt_set_subject_name(&cert, subject) != 0 ||
      mbedtls_x509write_crt_set_issuer_name(&cert, subject) != 0) {
    return false;
  }
  // Names clients use to reach the relay: the host name, and on the device
  // itself "localhost", 127.0.0.1 and ::1.
  static unsigned char loopback_v4[4] = {127, 0, 0, 1};
  static unsigned char loopback_v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  std::array<mbedtls_x509_san_list, 4> names{};
  auto set = [&](std::size_t i, int type, const void* data, std::size_t length) {
    names[i].node.type = type;
    names[i].node.san.unstructured_name.p = static_cast<unsigned char*>(const_cast<void*>(data));
    names[i].node.san.unstructured_name.len = length;
    names[i].next = i + 1 < names.size() ? &names[i + 1] : nullptr;
  };
  set(0, MBEDTLS_X509_SAN_DNS_NAME, host_name.data(), host_name.size());
  set(1, MBEDTLS_X509_SAN_IP_ADDRESS, loopback_v4, sizeof loopback_v4);
  set(2, MBEDTLS_X509_SAN_IP_ADDRESS, loopback_v6, sizeof loopback_v6);
  set(3, MBEDTLS_X509_SAN_DNS_NAME, "localhost", 9);
  if (host_name == "localhost") names[2].next = nullptr;
  mbedtls_x509_san_list& own = names[0];
  return mbedtls_x509write_crt_set_subject_alternative_name(&cert, &own) == 0;
}

// The subject key identifier of RFC 7093 §2 method 1: the leftmost 160 bits of
// the SHA-256 of the public key's BIT STRING value. Mbed TLS's own setter takes
// SHA-1 (RFC 5280's method), which nothing else of pigeon needs: this way the
// boards build without SHA-1 (3.7 KB of mps2-an385's flash).
bool set_subject_key_identifier(mbedtls_x509write_cert& cert, mbedtls_pk_context& key) {
  std::array<unsigned char, MBEDTLS_ECP_MAX_PT_LEN> public_key{};
  unsigned char* start = public_key.data() + public_key.size();
  const int key_bytes = mbedtls_pk_write_pubkey(&start, public_key.data(), &key);
  if (key_bytes <= 0) return false;
  std::array<unsigned char, 32> digest{};
  if (mbedtls_sha256(start, static_cast<std::size_t>(key_bytes), digest.data(), 0) != 0) return false;
  constexpr std::size_t identifier_bytes = 20;
  // The extension's value: OCTET STRING of the identifier (DER, short length).
  std::array<unsigned char, 2 + identifier_bytes> value{MBEDTLS_ASN1_OCTET_STRING, identifier_bytes};
  std::memcpy(value.data() + 2, digest.data(), identifier_bytes);
  return mbedtls_x509write_crt_set_extension(&cert, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER,
                                             MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER), 0,
                                             value.data(), value.size()) == 0;
}

}  // namespace

bool generate_server_identity(CryptoRandom& random, std::string_view host_name,
                              std::int64_t now_unix_s, ServerIdentityPem& out) {
  WriteContext context;
  if (mbedtls_pk_setup(&context.key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(context.key),
                          CryptoRandom::generate, random.context()) != 0) {
    return false;
  }
  std::array<unsigned char, 16> serial{};
  random.fill(serial);
  // A positive INTEGER whose first octet is not zero: DER wants the shortest
  // form, and strict parsers (OpenSSL 3) refuse a certificate whose serial
  // starts with a redundant zero octet, which a plain random serial does once
  // in 256 first boots.
  serial[0] = static_cast<unsigned char>((serial[0] & 0x7F) | 0x40);
  std::array<char, 16> not_before{};
  std::array<char, 16> not_after{};
  if (!x509_time(now_unix_s - 3600, not_before) || !x509_time(now_unix_s + validity_s, not_after)) {
    return false;
  }
  mbedtls_x509write_cert& cert = context.cert;
  mbedtls_x509write_crt_set_version(&cert, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&cert, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&cert, &context.key);
  mbedtls_x509write_crt_set_issuer_key(&cert, &context.key);
  if (mbedtls_x509write_crt_set_serial_raw(&cert, serial.data(), serial.size()) != 0 ||
      mbedtls_x509write_crt_set_validity(&cert, not_before.data(), not_after.data()) != 0 ||
      !set_names(cert, host_name) ||
      // A self-signed end-entity certificate that clients pin as their trust anchor.
      mbedtls_x509write_crt_set_basic_constraints(&cert, 0, -1) != 0 ||
      mbedtls_x509write_crt_set_key_usage(&cert, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0 ||
      !set_subject_key_identifier(cert, context.key)) {
    return false;
  }
  auto* key_out = reinterpret_cast<unsigned char*>(out.key.data());
  auto* cert_out = reinterpret_cast<unsigned char*>(out.cert.data());
  if (mbedtls_pk_write_key_pem(&context.key, key_out, out.key.size()) != 0 ||
      mbedtls_x509write_crt_pem(&cert, cert_out, out.cert.size(), CryptoRandom::generate,
                                random.context()) != 0) {
    return false;
  }
  out.key_length = std::strlen(out.key.data());
  out.cert_length = std::strlen(out.cert.data());
  return true;
}

namespace {

// The base64 text between a PEM block's BEGIN and END lines, line breaks
// dropped (the decoder takes one unbroken text); nullopt when it does not fit.
std::optional<std::string_view> pem_body(std::string_view pem, std::span<char> out) {
  constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
  constexpr std::string_view end = "-----END CERTIFICATE-----";
  const std::size_t start = pem.find(begin);
  if (start == std::string_view::npos) return std::nullopt;
  const std::size_t stop = pem.find(end, start);
  if (stop == std::string_view::npos) return std::nullopt;
  std::size_t length = 0;
  for (const char c : pem.substr(start + begin.size(), stop - start - begin.size())) {
    if (c == '\n' || c == '\r') continue;
    if (length == out.size()) return std::nullopt;
    out[length++] = c;
  }
  return std::string_view(out.data(), length);
}

}  // namespace

std::optional<std::string_view> certificate_fingerprint(std::string_view cert_pem,
                                                        std::span<char, fingerprint_chars> out) {
  std::array<char, PIGEON_TLS_IDENTITY_PEM_BYTES> text{};
  std::array<std::uint8_t, PIGEON_TLS_IDENTITY_PEM_BYTES * 3 / 4> der{};
  const std::optional<std::string_view> body = pem_body(cert_pem, text);
  if (!body) return std::nullopt;
  const std::size_t der_bytes = protocol::base64::decode(*body, der).value_or(0);
  std::array<unsigned char, 32> hash{};
  if (der_bytes == 0 || mbedtls_sha256(der.data(), der_bytes, hash.data(), 0) != 0) return std::nullopt;
  constexpr std::string_view digits = "0123456789ABCDEF";
  for (std::size_t i = 0; i < hash.size(); ++i) {
    out[3 * i] = digits[hash[i] >> 4];
    out[3 * i + 1] = digits[hash[i] & 0xF];
    if (i + 1 < hash.size()) out[3 * i + 2] = ':';
  }
  return std::string_view(out.data(), out.size());
}

}  // namespace pigeon
