// TLS over one non-blocking stream of the network HAL, with Mbed TLS. Sessions
// come from fixed pools (TlsServer for clients of the relay, SmarthostTlsClient for
// the relay's own connections to its smarthost); their memory comes from the
// TLS arena. Mbed TLS's types stay in the glue's .cpp files (tls_storage.hpp).
#pragma once

#include <array>
#include <span>
#include <string_view>

#include "crypto_random.hpp"
#include "hal/net.hpp"
#include "pigeon_limits.hpp"
#include "tls_storage.hpp"

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
  // Why the handshake, a read or a write failed, for the log: Mbed TLS's words
  // for its error (may be empty) and its error code (negative; 0: none).
  const char* failure_reason() const { return failure_reason_; }
  int failure_code() const { return failure_code_; }
  // Bytes that came in from the network so far (records, handshake messages):
  // a handshake step that took some made progress.
  std::uint32_t bytes_received() const { return bytes_received_; }

 private:
  friend class TlsServer;
  friend class SmarthostTlsClient;
  // Sets the session up with `config` over `stream`; false when the arena is exhausted.
  bool bind(const SslConfigStorage& config, hal::Net& net, hal::StreamId stream);
  // Frees what bind() set up; once per successful bind().
  void unbind();
  static int send_callback(void* self, const unsigned char* data, std::size_t length);
  static int receive_callback(void* self, unsigned char* out, std::size_t length);
  hal::IoResult map_result(int rc);
  void remember_failure(int rc);

  SslContextStorage ssl_;
  hal::Net* net_ = nullptr;
  hal::StreamId stream_ = hal::invalid_id;
  bool in_use_ = false;
  const char* failure_reason_ = "";
  int failure_code_ = 0;
  std::uint32_t bytes_received_ = 0;
};

// Where a connection gets its TLS session from, and gives it back.
class TlsSessionPool {
 public:
  // A session bound to `stream`, or nullptr when all are in use.
  virtual TlsSession* acquire(hal::Net& net, hal::StreamId stream) = 0;
  // Takes back a session from acquire(), exactly once.
  virtual void release(TlsSession* session) = 0;

 protected:
  ~TlsSessionPool() = default;
};

// The server side: our certificate and key, one configuration, the session pool.
class TlsServer final : public TlsSessionPool {
 public:
  // At most `session_limit` sessions at once (config `tls_sessions`): the
  // arena was sized for that many (tls_arena_init).
  explicit TlsServer(CryptoRandom& random, std::size_t session_limit = PIGEON_TLS_SESSIONS);
  ~TlsServer();
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  // PEM key and certificate; false when either does not parse or they do not match.
  bool load_identity(std::string_view key_pem, std::string_view cert_pem);

  // Session tickets, so that a returning client skips the full handshake: TLS 1.2
  // (RFC 5077) and TLS 1.3 (a PSK). Tickets carry the session sealed with
  // AES-256-GCM; nothing per client stays here. The keys come from the relay's
  // generator now (a restart refuses every earlier ticket) and are replaced every
  // `lifetime_s`: a key seals tickets for one lifetime and opens them for one more,
  // and a ticket older than `lifetime_s` is refused. 0 issues no tickets (nor
  // does a server without this call). False when the arena has no room for the keys.
  bool enable_tickets(std::uint32_t lifetime_s);
  // Replaces the key that seals tickets once it has done so for a lifetime, and
  // forgets the key before it. Mbed TLS alone replaces keys only when a client
  // comes; called every loop round, this holds even for an idle relay, so no
  // ticket key stays in memory longer than two lifetimes.
  void rotate_ticket_keys(std::uint64_t now_ms);

  TlsSession* acquire(hal::Net& net, hal::StreamId stream) override;
  void release(TlsSession* session) override;

 private:
  CryptoRandom& random_;
  SslConfigStorage config_;
  CertificateStorage certificate_;
  KeyStorage key_;
  TicketKeysStorage ticket_keys_;
  std::uint32_t ticket_lifetime_s_ = 0;  // 0: no tickets
  std::uint64_t ticket_key_due_ms_ = 0;  // when the sealing key is replaced; 0: not yet timed
  std::array<TlsSession, PIGEON_TLS_SESSIONS> sessions_;
  std::span<TlsSession> usable_;  // the first session_limit of sessions_
};

}  // namespace pigeon
