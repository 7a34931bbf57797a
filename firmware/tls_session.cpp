#include "tls_session.hpp"

#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>
#include <psa/crypto.h>

#include <algorithm>

#include "protocol/assert.hpp"
#include "tls_glue.hpp"

namespace pigeon {

using tls_glue::ssl;

int TlsSession::send_callback(void* self, const unsigned char* data, std::size_t length) {
  auto* session = static_cast<TlsSession*>(self);
  const hal::IoResult result = session->net_->send(session->stream_, {data, length});
  if (result.status == hal::NetStatus::ok) {
    return result.bytes == 0 ? MBEDTLS_ERR_SSL_WANT_WRITE : static_cast<int>(result.bytes);
  }
  if (result.status == hal::NetStatus::would_block) return MBEDTLS_ERR_SSL_WANT_WRITE;
  return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

int TlsSession::receive_callback(void* self, unsigned char* out, std::size_t length) {
  auto* session = static_cast<TlsSession*>(self);
  const hal::IoResult result = session->net_->receive(session->stream_, {out, length});
  if (result.status == hal::NetStatus::ok) {
    session->bytes_received_ += static_cast<std::uint32_t>(result.bytes);
    return static_cast<int>(result.bytes);
  }
  if (result.status == hal::NetStatus::would_block) return MBEDTLS_ERR_SSL_WANT_READ;
  if (result.status == hal::NetStatus::closed) return 0;  // EOF
  return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

TlsStep TlsSession::handshake() {
  PIGEON_ASSERT(in_use_);
  const int rc = mbedtls_ssl_handshake(&ssl(ssl_));
  if (rc == 0) return TlsStep::done;
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
      rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
    return TlsStep::in_progress;
  }
  remember_failure(rc);
  return TlsStep::failed;
}

// Mbed TLS's words for the SSL-level errors where the build has them
// (MBEDTLS_ERROR_C: the host); its code always. The board leaves the words out
// (13 KB of flash); the code looks them up in Mbed TLS's headers.
void TlsSession::remember_failure(int rc) {
  failure_code_ = rc;
#if defined(MBEDTLS_ERROR_C)
  failure_reason_ = mbedtls_high_level_strerr(rc);
#else
  failure_reason_ = nullptr;
#endif
  if (failure_reason_ == nullptr) failure_reason_ = "no words for it in this build";
}

hal::IoResult TlsSession::map_result(int rc) {
  if (rc > 0) return {hal::NetStatus::ok, static_cast<std::size_t>(rc)};
  switch (rc) {
    case MBEDTLS_ERR_SSL_WANT_READ:
    case MBEDTLS_ERR_SSL_WANT_WRITE:
    // TLS 1.3 tickets and post-handshake messages: no data yet, try again.
    case MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET:
    case MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS:
      return {hal::NetStatus::would_block, 0};
    case 0:
    case MBEDTLS_ERR_SSL_CONN_EOF:  // the peer closed the stream without close_notify
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
      return {hal::NetStatus::closed, 0};
    default:
      remember_failure(rc);
      return {hal::NetStatus::error, 0};
  }
}

hal::IoResult TlsSession::read(std::span<std::uint8_t> out) {
  PIGEON_ASSERT(in_use_);
  return map_result(mbedtls_ssl_read(&ssl(ssl_), out.data(), out.size()));
}

hal::IoResult TlsSession::write(std::span<const std::uint8_t> data) {
  PIGEON_ASSERT(in_use_);
  return map_result(mbedtls_ssl_write(&ssl(ssl_), data.data(), data.size()));
}

void TlsSession::close_notify() { mbedtls_ssl_close_notify(&ssl(ssl_)); }

TlsServer::TlsServer(CryptoRandom& random, std::size_t session_limit)
    : random_(random), usable_(std::span(sessions_).first(std::min(session_limit, sessions_.size()))) {
  PIGEON_ASSERT(session_limit >= 1);
  mbedtls_ssl_config& config = tls_glue::config(config_);
  psa_crypto_init();  // TLS 1.3 uses PSA for its key schedule
  mbedtls_ssl_config_init(&config);
  mbedtls_x509_crt_init(&tls_glue::certificate(certificate_));
  mbedtls_pk_init(&tls_glue::key(key_));
  mbedtls_ssl_ticket_init(&tls_glue::ticket_keys(ticket_keys_));
  mbedtls_ssl_config_defaults(&config, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                              MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_rng(&config, CryptoRandom::generate, random_.context());
  mbedtls_ssl_conf_min_tls_version(&config, MBEDTLS_SSL_VERSION_TLS1_2);
  mbedtls_ssl_conf_authmode(&config, MBEDTLS_SSL_VERIFY_NONE);  // clients log in with passwords
}

TlsServer::~TlsServer() {
  for (TlsSession& session : sessions_) {
    if (session.in_use_) release(&session);
  }
  mbedtls_ssl_ticket_free(&tls_glue::ticket_keys(ticket_keys_));
  mbedtls_pk_free(&tls_glue::key(key_));
  mbedtls_x509_crt_free(&tls_glue::certificate(certificate_));
  mbedtls_ssl_config_free(&tls_glue::config(config_));
}

// Mbed TLS parses PEM only with the terminating NUL counted in the length.
bool TlsServer::load_identity(std::string_view key_pem, std::string_view cert_pem) {
  static std::array<unsigned char, PIGEON_TLS_IDENTITY_PEM_BYTES> buffer{};
  mbedtls_x509_crt& certificate = tls_glue::certificate(certificate_);
  mbedtls_pk_context& key = tls_glue::key(key_);
  if (cert_pem.size() >= buffer.size() || key_pem.size() >= buffer.size()) return false;
  std::copy(cert_pem.begin(), cert_pem.end(), buffer.begin());
  buffer[cert_pem.size()] = 0;
  if (mbedtls_x509_crt_parse(&certificate, buffer.data(), cert_pem.size() + 1) != 0) return false;
  buffer.fill(0);
  std::copy(key_pem.begin(), key_pem.end(), buffer.begin());
  const bool key_ok = mbedtls_pk_parse_key(&key, buffer.data(), key_pem.size() + 1, nullptr, 0,
                                           CryptoRandom::generate, random_.context()) == 0;
  buffer.fill(0);  // do not leave the private key in memory
  if (!key_ok) return false;
  if (mbedtls_pk_check_pair(&certificate.pk, &key, CryptoRandom::generate, random_.context()) != 0) {
    return false;
  }
  return mbedtls_ssl_conf_own_cert(&tls_glue::config(config_), &certificate, &key) == 0;
}

bool TlsServer::enable_tickets(std::uint32_t lifetime_s) {
  if (lifetime_s == 0) return true;
  mbedtls_ssl_ticket_context& keys = tls_glue::ticket_keys(ticket_keys_);
  if (mbedtls_ssl_ticket_setup(&keys, CryptoRandom::generate, random_.context(), MBEDTLS_CIPHER_AES_256_GCM,
                               lifetime_s) != 0) {
    return false;
  }
  // TLS 1.3 resumes in psk_dhe_ke mode when the client offers it, in psk_ke
  // when that is all it offers (docs/security.md weighs the two).
  mbedtls_ssl_conf_session_tickets_cb(&tls_glue::config(config_), mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
                                      &keys);
  ticket_lifetime_s_ = lifetime_s;
  return true;
}

// mbedtls_ssl_ticket_rotate puts the new key where the older of the two was,
// and makes it the one that seals.
void TlsServer::rotate_ticket_keys(std::uint64_t now_ms) {
  if (ticket_lifetime_s_ == 0) return;
  const std::uint64_t lifetime_ms = std::uint64_t{ticket_lifetime_s_} * 1000;
  if (ticket_key_due_ms_ == 0) ticket_key_due_ms_ = now_ms + lifetime_ms;
  if (now_ms < ticket_key_due_ms_) return;
  std::array<std::uint8_t, MBEDTLS_SSL_TICKET_KEY_NAME_BYTES> name{};
  std::array<std::uint8_t, 32> key{};  // AES-256
  if (!random_.fill(name) || !random_.fill(key)) return;  // the generator could not reseed: next round
  const int rotated = mbedtls_ssl_ticket_rotate(&tls_glue::ticket_keys(ticket_keys_), name.data(), name.size(),
                                                key.data(), key.size(), ticket_lifetime_s_);
  mbedtls_platform_zeroize(key.data(), key.size());
  PIGEON_ASSERT(rotated == 0);  // a 256-bit key for the AES-256-GCM set up by enable_tickets
  ticket_key_due_ms_ = now_ms + lifetime_ms;
}

bool TlsSession::bind(const SslConfigStorage& config, hal::Net& net, hal::StreamId stream) {
  PIGEON_ASSERT(!in_use_);
  mbedtls_ssl_init(&ssl(ssl_));
  if (mbedtls_ssl_setup(&ssl(ssl_), &tls_glue::config(config)) != 0) {
    mbedtls_ssl_free(&ssl(ssl_));
    return false;  // the arena is exhausted
  }
  net_ = &net;
  stream_ = stream;
  failure_reason_ = "";
  failure_code_ = 0;
  bytes_received_ = 0;
  in_use_ = true;
  mbedtls_ssl_set_bio(&ssl(ssl_), this, send_callback, receive_callback, nullptr);
  return true;
}

void TlsSession::unbind() {
  PIGEON_ASSERT(in_use_);  // a session is released exactly once
  mbedtls_ssl_free(&ssl(ssl_));
  in_use_ = false;
}

TlsSession* TlsServer::acquire(hal::Net& net, hal::StreamId stream) {
  for (TlsSession& session : usable_) {
    if (!session.in_use_) return session.bind(config_, net, stream) ? &session : nullptr;
  }
  return nullptr;
}

void TlsServer::release(TlsSession* session) {
  PIGEON_ASSERT(session != nullptr);
  session->unbind();
}

}  // namespace pigeon
