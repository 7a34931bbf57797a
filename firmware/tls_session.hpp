// TLS over one non-blocking stream of the network HAL, with Mbed TLS. Sessions
// come from fixed pools (TlsServer for clients of the relay, SmarthostTlsClient for
// the relay's own connections to its smarthost); their memory comes from the
// TLS arena.
#pragma once

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <span>
#include <string_view>

#include "crypto_random.hpp"
#include "hal/net.hpp"
#include "pigeon_limits.hpp"

namespace pigeon {

enum class TlsStep : std::uint8_t { in_progress, done, failed };

class TlsSession {
 public:
  // One step of the handshake; never blocks.
  TlsStep handshake();
  // Plaintext in and out; would_block when TLS needs the network first.
  hal::IoResult read(std::span<std::uint8_t> out);
  hal::IoResult write(std::span<const std::uint8_t> data);
  // Sends the close_notify alert (best effort: the stream is closed next).
  void close_notify();
  // Why the handshake failed, for the log.
  const char* failure_reason() const { return failure_reason_; }

 private:
  friend class TlsServer;
  friend class SmarthostTlsClient;
  // Sets the session up with `config` over `stream`; false when the arena is exhausted.
  bool bind(const mbedtls_ssl_config& config, hal::Net& net, hal::StreamId stream);
  static int send_callback(void* self, const unsigned char* data, std::size_t length);
  static int receive_callback(void* self, unsigned char* out, std::size_t length);
  hal::IoResult map_result(int rc);

  mbedtls_ssl_context ssl_;
  hal::Net* net_ = nullptr;
  hal::StreamId stream_ = hal::invalid_id;
  bool in_use_ = false;
  const char* failure_reason_ = "";
};

// Where a connection gets its TLS session from, and gives it back.
class TlsSessionPool {
 public:
  // A session bound to `stream`, or nullptr when all are in use.
  virtual TlsSession* acquire(hal::Net& net, hal::StreamId stream) = 0;
  virtual void release(TlsSession* session) = 0;

 protected:
  ~TlsSessionPool() = default;
};

// The server side: our certificate and key, one configuration, the session pool.
class TlsServer final : public TlsSessionPool {
 public:
  explicit TlsServer(CryptoRandom& random);
  ~TlsServer();
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  // PEM key and certificate; false when either does not parse or they do not match.
  bool load_identity(std::string_view key_pem, std::string_view cert_pem);

  TlsSession* acquire(hal::Net& net, hal::StreamId stream) override;
  void release(TlsSession* session) override;

 private:
  CryptoRandom& random_;
  mbedtls_ssl_config config_;
  mbedtls_x509_crt certificate_;
  mbedtls_pk_context key_;
  std::array<TlsSession, PIGEON_TLS_SESSIONS> sessions_;
};

}  // namespace pigeon
