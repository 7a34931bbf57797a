#include "smarthost_tls.hpp"

#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include <algorithm>
#include <cstring>

namespace pigeon {
namespace {

// An SPKI of a 4096-bit RSA key is about 550 bytes; EC keys are far smaller.
constexpr std::size_t max_public_key_der_bytes = 1100;

}  // namespace

SmarthostTlsClient::SmarthostTlsClient(CryptoRandom& random) : random_(random) {
  mbedtls_ssl_config_init(&config_);
  mbedtls_x509_crt_init(&ca_);
  mbedtls_ssl_session_init(&saved_session_);
  mbedtls_ssl_config_defaults(&config_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                              MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_rng(&config_, CryptoRandom::generate, random_.context());
  mbedtls_ssl_conf_min_tls_version(&config_, MBEDTLS_SSL_VERSION_TLS1_2);
  // Never optional: a chain that does not verify ends the handshake.
  mbedtls_ssl_conf_authmode(&config_, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&config_, &ca_, nullptr);
  mbedtls_ssl_conf_session_tickets(&config_, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
  // TLS 1.3 tickets arrive after the handshake; without this they are ignored
  // and no TLS 1.3 session could ever be resumed.
  mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&config_,
                                                           MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
  for (Slot& slot : slots_) slot.owner = this;
}

SmarthostTlsClient::~SmarthostTlsClient() {
  for (Slot& slot : slots_) release(&slot.session);
  mbedtls_ssl_session_free(&saved_session_);
  mbedtls_x509_crt_free(&ca_);
  mbedtls_ssl_config_free(&config_);
}

// Mbed TLS parses PEM only with the terminating NUL counted in the length.
bool SmarthostTlsClient::load_ca_pem(const char* pem) {
  mbedtls_x509_crt_parse(&ca_, reinterpret_cast<const unsigned char*>(pem), std::strlen(pem) + 1);
  return count_ca();
}

bool SmarthostTlsClient::load_ca_file(const char* path) {
#if defined(MBEDTLS_FS_IO)
  mbedtls_x509_crt_parse_file(&ca_, path);
#else
  (void)path;
#endif
  return count_ca();
}

// The parsers return how many certificates failed; what counts is what is in
// the chain now.
bool SmarthostTlsClient::count_ca() {
  ca_count_ = 0;
  for (const mbedtls_x509_crt* c = &ca_; c != nullptr && c->raw.len != 0; c = c->next) ++ca_count_;
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
    mbedtls_ssl_context& ssl = slot.session.ssl_;
    mbedtls_ssl_set_verify(&ssl, verify_certificate, &slot);
    // The name is checked against the certificate and sent as SNI.
    if (mbedtls_ssl_set_hostname(&ssl, host_name_.data()) != 0) {
      release(&slot.session);
      return nullptr;
    }
    if (has_saved_session_) mbedtls_ssl_set_session(&ssl, &saved_session_);
    return &slot.session;
  }
  return nullptr;
}

void SmarthostTlsClient::release(TlsSession* session) {
  Slot* slot = slot_of(session);
  if (slot == nullptr || !session->in_use_) return;
  if (mbedtls_ssl_is_handshake_over(&session->ssl_)) {
    ++counters_.handshakes;
    if (!slot->certificate_seen) ++counters_.resumed;
    save_session(session->ssl_);
  } else {
    last_verify_failure_ = verify_failure(*slot);
  }
  mbedtls_ssl_free(&session->ssl_);
  session->in_use_ = false;
}

// A TLS 1.2 session exports after the handshake; a TLS 1.3 one only once the
// server sent a ticket, which it does after the handshake. Exporting at the
// end of the connection covers both. A connection that got no new ticket
// keeps the session saved before.
void SmarthostTlsClient::save_session(mbedtls_ssl_context& ssl) {
  mbedtls_ssl_session fresh;
  mbedtls_ssl_session_init(&fresh);
  if (mbedtls_ssl_get_session(&ssl, &fresh) != 0) {
    mbedtls_ssl_session_free(&fresh);
    return;
  }
  mbedtls_ssl_session_free(&saved_session_);
  saved_session_ = fresh;  // takes over what `fresh` points to
  has_saved_session_ = true;
}

SmarthostTlsClient::Slot* SmarthostTlsClient::slot_of(TlsSession* session) {
  for (Slot& slot : slots_) {
    if (&slot.session == session) return &slot;
  }
  return nullptr;
}

// Runs for each certificate of a full handshake's chain, after Mbed TLS has
// checked it; depth 0 is the server's own certificate.
int SmarthostTlsClient::verify_certificate(void* context, mbedtls_x509_crt* certificate, int depth,
                                     std::uint32_t* flags) {
  auto* slot = static_cast<Slot*>(context);
  if (depth != 0) return 0;
  slot->certificate_seen = true;
  if (slot->owner->pinned_ && !slot->owner->key_matches_pin(*certificate)) {
    slot->pin_failed = true;
    *flags |= MBEDTLS_X509_BADCERT_OTHER;
  }
  return 0;
}

bool SmarthostTlsClient::key_matches_pin(const mbedtls_x509_crt& certificate) const {
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
  return std::equal(digest.begin(), digest.end(), pin_sha256_.begin());
}

std::string_view SmarthostTlsClient::verify_failure(const Slot& slot) {
  if (slot.pin_failed) return "public key does not match smarthost_pin_sha256";
  const std::uint32_t flags = mbedtls_ssl_get_verify_result(&slot.session.ssl_);
  if (flags == 0 || flags == static_cast<std::uint32_t>(-1)) return {};
  if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) return "certificate does not name the smarthost";
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) return "certificate chain not trusted (smarthost_ca_file)";
  if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)) return "certificate not valid now";
  return "certificate refused";
}

}  // namespace pigeon
