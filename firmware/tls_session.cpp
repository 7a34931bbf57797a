#include "tls_session.hpp"

#include <mbedtls/error.h>
#include <psa/crypto.h>

namespace pigeon {

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
  if (result.status == hal::NetStatus::ok) return static_cast<int>(result.bytes);
  if (result.status == hal::NetStatus::would_block) return MBEDTLS_ERR_SSL_WANT_READ;
  if (result.status == hal::NetStatus::closed) return 0;  // EOF
  return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

TlsStep TlsSession::handshake() {
  const int rc = mbedtls_ssl_handshake(&ssl_);
  if (rc == 0) return TlsStep::done;
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
      rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
    return TlsStep::in_progress;
  }
  failure_reason_ = mbedtls_high_level_strerr(rc);
  if (failure_reason_ == nullptr) failure_reason_ = "TLS handshake failed";
  return TlsStep::failed;
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
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
      return {hal::NetStatus::closed, 0};
    default:
      return {hal::NetStatus::error, 0};
  }
}

hal::IoResult TlsSession::read(std::span<std::uint8_t> out) {
  return map_result(mbedtls_ssl_read(&ssl_, out.data(), out.size()));
}

hal::IoResult TlsSession::write(std::span<const std::uint8_t> data) {
  return map_result(mbedtls_ssl_write(&ssl_, data.data(), data.size()));
}

void TlsSession::close_notify() { mbedtls_ssl_close_notify(&ssl_); }

TlsServer::TlsServer(CryptoRandom& random) : random_(random) {
  psa_crypto_init();  // TLS 1.3 uses PSA for its key schedule
  mbedtls_ssl_config_init(&config_);
  mbedtls_x509_crt_init(&certificate_);
  mbedtls_pk_init(&key_);
  mbedtls_ssl_config_defaults(&config_, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                              MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_rng(&config_, CryptoRandom::generate, random_.context());
  mbedtls_ssl_conf_min_tls_version(&config_, MBEDTLS_SSL_VERSION_TLS1_2);
  mbedtls_ssl_conf_authmode(&config_, MBEDTLS_SSL_VERIFY_NONE);  // clients log in with passwords
}

TlsServer::~TlsServer() {
  for (TlsSession& session : sessions_) release(&session);
  mbedtls_pk_free(&key_);
  mbedtls_x509_crt_free(&certificate_);
  mbedtls_ssl_config_free(&config_);
}

// Mbed TLS parses PEM only with the terminating NUL counted in the length.
bool TlsServer::load_identity(std::string_view key_pem, std::string_view cert_pem) {
  static std::array<unsigned char, PIGEON_TLS_IDENTITY_PEM_BYTES> buffer{};
  if (cert_pem.size() >= buffer.size() || key_pem.size() >= buffer.size()) return false;
  std::copy(cert_pem.begin(), cert_pem.end(), buffer.begin());
  buffer[cert_pem.size()] = 0;
  if (mbedtls_x509_crt_parse(&certificate_, buffer.data(), cert_pem.size() + 1) != 0) return false;
  buffer.fill(0);
  std::copy(key_pem.begin(), key_pem.end(), buffer.begin());
  const bool key_ok = mbedtls_pk_parse_key(&key_, buffer.data(), key_pem.size() + 1, nullptr, 0,
                                           CryptoRandom::generate, random_.context()) == 0;
  buffer.fill(0);  // do not leave the private key in memory
  if (!key_ok) return false;
  if (mbedtls_pk_check_pair(&certificate_.pk, &key_, CryptoRandom::generate, random_.context()) != 0) {
    return false;
  }
  return mbedtls_ssl_conf_own_cert(&config_, &certificate_, &key_) == 0;
}

bool TlsSession::bind(const mbedtls_ssl_config& config, hal::Net& net, hal::StreamId stream) {
  mbedtls_ssl_init(&ssl_);
  if (mbedtls_ssl_setup(&ssl_, &config) != 0) {
    mbedtls_ssl_free(&ssl_);
    return false;  // the arena is exhausted
  }
  net_ = &net;
  stream_ = stream;
  failure_reason_ = "";
  in_use_ = true;
  mbedtls_ssl_set_bio(&ssl_, this, send_callback, receive_callback, nullptr);
  return true;
}

TlsSession* TlsServer::acquire(hal::Net& net, hal::StreamId stream) {
  for (TlsSession& session : sessions_) {
    if (!session.in_use_) return session.bind(config_, net, stream) ? &session : nullptr;
  }
  return nullptr;
}

void TlsServer::release(TlsSession* session) {
  if (session == nullptr || !session->in_use_) return;
  mbedtls_ssl_free(&session->ssl_);
  session->in_use_ = false;
}

}  // namespace pigeon
