#include "smarthost_tls.hpp"

#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include <algorithm>
#include <cstring>

#include "protocol/assert.hpp"
#include "tls_glue.hpp"

namespace pigeon {
namespace {

// An SPKI of a 4096-bit RSA key is about 550 bytes; EC keys are far smaller.
constexpr std::size_t max_public_key_der_bytes = 1100;

}  // namespace

struct SmarthostTlsClient::Glue {
  static int verify_certificate(void* slot, mbedtls_x509_crt* certificate, int depth, std::uint32_t* flags);
  static bool key_matches_pin(const SmarthostTlsClient& client, const mbedtls_x509_crt& certificate);
  static void save_session(SmarthostTlsClient& client, mbedtls_ssl_context& ssl);
  static std::string_view verify_failure(const Slot& slot);
};

SmarthostTlsClient::SmarthostTlsClient(CryptoRandom& random) : random_(random) {
  mbedtls_ssl_config& config = tls_glue::config(config_);
  mbedtls_x509_crt& ca = tls_glue::certificate(ca_);
  mbedtls_ssl_config_init(&config);
  mbedtls_x509_crt_init(&ca);
  mbedtls_ssl_session_init(&tls_glue::session(saved_session_));
  mbedtls_ssl_config_defaults(&config, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                              MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_rng(&config, CryptoRandom::generate, random_.context());
  mbedtls_ssl_conf_min_tls_version(&config, MBEDTLS_SSL_VERSION_TLS1_2);
  // Never optional: a chain that does not verify ends the handshake.
  mbedtls_ssl_conf_authmode(&config, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&config, &ca, nullptr);
  mbedtls_ssl_conf_session_tickets(&config, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
  // TLS 1.3 tickets arrive after the handshake; without this they are ignored
  // and no TLS 1.3 session could ever be resumed.
  mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&config,
                                                           MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
  for (Slot& slot : slots_) slot.owner = this;
}

SmarthostTlsClient::~SmarthostTlsClient() {
  for (Slot& slot : slots_) {
    if (slot.session.in_use_) release(&slot.session);
  }
  mbedtls_ssl_session_free(&tls_glue::session(saved_session_));
  mbedtls_x509_crt_free(&tls_glue::certificate(ca_));
  mbedtls_ssl_config_free(&tls_glue::config(config_));
}

// Mbed TLS parses PEM only with the terminating NUL counted in the length.
bool SmarthostTlsClient::load_ca_pem(const char* pem) {
  mbedtls_x509_crt_parse(&tls_glue::certificate(ca_), reinterpret_cast<const unsigned char*>(pem),
                         std::strlen(pem) + 1);
  return count_ca();
}

bool SmarthostTlsClient::load_ca_file(const char* path) {
#if defined(MBEDTLS_FS_IO)
  mbedtls_x509_crt_parse_file(&tls_glue::certificate(ca_), path);
#else
  (void)path;
#endif
  return count_ca();
}

// The parsers return how many certificates failed; what counts is what is in
// the chain now.
bool SmarthostTlsClient::count_ca() {
  ca_count_ = 0;
  for (const mbedtls_x509_crt* c = &tls_glue::certificate(ca_); c != nullptr && c->raw.len != 0; c = c->next) {
    ++ca_count_;
  }
  return has_ca();
}

bool SmarthostTlsClient::set_peer(std::string_view host_name, const std::array<std::uint8_t, 32>* pin_sha256) {
  if (host_name.empty() || host_name.size() >= host_name_.size()) return false;
  std::memcpy(host_name_.data(), host_name.data(), host_name.size());
  host_name_[host_name.size()] = '\0';
  pinned_ = pin_sha256 != nullptr;
  if (pinned_) pin_sha256_ = *pin_sha256;
  return true;
}

TlsSession* SmarthostTlsClient::acquire(hal::Net& net, hal::StreamId stream) {
  for (Slot& slot : slots_) {
    if (slot.session.in_use_) continue;
    if (!slot.session.bind(config_, net, stream)) return nullptr;
    slot.certificate_seen = false;
    slot.pin_failed = false;
    mbedtls_ssl_context& ssl = tls_glue::ssl(slot.session.ssl_);
    mbedtls_ssl_set_verify(&ssl, Glue::verify_certificate, &slot);
    // The name is checked against the certificate and sent as SNI.
    if (mbedtls_ssl_set_hostname(&ssl, host_name_.data()) != 0) {
      release(&slot.session);
      return nullptr;
    }
    if (has_saved_session_) mbedtls_ssl_set_session(&ssl, &tls_glue::session(saved_session_));
    return &slot.session;
  }
  return nullptr;
}

void SmarthostTlsClient::release(TlsSession* session) {
  Slot* slot = slot_of(session);
  PIGEON_ASSERT(slot != nullptr);
  mbedtls_ssl_context& ssl = tls_glue::ssl(session->ssl_);
  if (mbedtls_ssl_is_handshake_over(&ssl)) {
    ++counters_.handshakes;
    if (!slot->certificate_seen) ++counters_.resumed;
    Glue::save_session(*this, ssl);
  } else {
    last_verify_failure_ = Glue::verify_failure(*slot);
  }
  session->unbind();
}

// A TLS 1.2 session exports after the handshake; a TLS 1.3 one only once the
// server sent a ticket, which it does after the handshake. Exporting at the
// end of the connection covers both. A connection that got no new ticket
// keeps the session saved before.
void SmarthostTlsClient::Glue::save_session(SmarthostTlsClient& client, mbedtls_ssl_context& ssl) {
  mbedtls_ssl_session fresh;
  mbedtls_ssl_session_init(&fresh);
  if (mbedtls_ssl_get_session(&ssl, &fresh) != 0) {
    mbedtls_ssl_session_free(&fresh);
    return;
  }
  mbedtls_ssl_session& saved = tls_glue::session(client.saved_session_);
  mbedtls_ssl_session_free(&saved);
  saved = fresh;  // takes over what `fresh` points to
  client.has_saved_session_ = true;
}

SmarthostTlsClient::Slot* SmarthostTlsClient::slot_of(TlsSession* session) {
  for (Slot& slot : slots_) {
    if (&slot.session == session) return &slot;
  }
  return nullptr;
}

// Runs for each certificate of a full handshake's chain, after Mbed TLS has
// checked it; depth 0 is the server's own certificate.
int SmarthostTlsClient::Glue::verify_certificate(void* context, mbedtls_x509_crt* certificate, int depth,
                                                 std::uint32_t* flags) {
  auto* slot = static_cast<Slot*>(context);
  if (depth != 0) return 0;
  slot->certificate_seen = true;
  if (slot->owner->pinned_ && !key_matches_pin(*slot->owner, *certificate)) {
    slot->pin_failed = true;
    *flags |= MBEDTLS_X509_BADCERT_OTHER;
  }
  return 0;
}

bool SmarthostTlsClient::Glue::key_matches_pin(const SmarthostTlsClient& client,
                                               const mbedtls_x509_crt& certificate) {
  std::array<unsigned char, max_public_key_der_bytes> der{};
  // Written at the end of the buffer; the return value is its length.
  const int length = mbedtls_pk_write_pubkey_der(const_cast<mbedtls_pk_context*>(&certificate.pk), der.data(),
                                                 der.size());
  if (length <= 0) return false;
  std::array<unsigned char, 32> digest{};
  if (mbedtls_sha256(der.data() + der.size() - static_cast<std::size_t>(length), static_cast<std::size_t>(length),
                     digest.data(), 0) != 0) {
    return false;
  }
  return std::equal(digest.begin(), digest.end(), client.pin_sha256_.begin());
}

std::string_view SmarthostTlsClient::Glue::verify_failure(const Slot& slot) {
  if (slot.pin_failed) return "public key does not match smarthost_pin_sha256";
  const std::uint32_t flags = mbedtls_ssl_get_verify_result(&tls_glue::ssl(slot.session.ssl_));
  if (flags == 0 || flags == static_cast<std::uint32_t>(-1)) return {};
  if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) return "certificate does not name the smarthost";
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) return "certificate chain not trusted (smarthost_ca_file)";
  if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)) return "certificate not valid now";
  return "certificate refused";
}

}  // namespace pigeon
