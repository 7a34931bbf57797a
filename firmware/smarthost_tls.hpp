// The client side of TLS to the smarthost (docs/architecture.md §1, §7): the chain must
// lead to a configured CA, the certificate must name the configured host, and
// the server's public key may be pinned as well. The last session is kept and
// offered again on the next connection, so most connections skip the full
// handshake. Sessions come from a fixed pool; memory from the TLS arena.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "crypto_random.hpp"
#include "pigeon_limits.hpp"
#include "tls_session.hpp"
#include "tls_storage.hpp"

namespace pigeon {

class SmarthostTlsClient final : public TlsSessionPool {
 public:
  explicit SmarthostTlsClient(CryptoRandom& random);
  ~SmarthostTlsClient();
  SmarthostTlsClient(const SmarthostTlsClient&) = delete;
  SmarthostTlsClient& operator=(const SmarthostTlsClient&) = delete;

  // The CA certificates the smarthost's chain must lead to: NUL-terminated PEM
  // text (boards compile theirs in) or, where the platform has files, a PEM
  // file read at start-up. False when no certificate in it parses.
  bool load_ca_pem(const char* pem);
  bool load_ca_file(const char* path);
  bool has_ca() const { return ca_count_ > 0; }

  // The name the certificate must carry (also sent as SNI), and the SHA-256 of
  // the server's SubjectPublicKeyInfo when the key is pinned (nullptr if not).
  bool set_peer(std::string_view host_name, const std::array<std::uint8_t, 32>* pin_sha256);

  TlsSession* acquire(hal::Net& net, hal::StreamId stream) override;
  // Keeps the session of a finished handshake for the next connection.
  void release(TlsSession* session) override;

  // Why the certificate of the last session released before its handshake
  // finished was refused, for the log; empty when it was not.
  std::string_view last_verify_failure() const { return last_verify_failure_; }

  // Completed handshakes, and how many of them resumed a saved session.
  struct Counters {
    std::uint32_t handshakes = 0;
    std::uint32_t resumed = 0;
  };
  const Counters& counters() const { return counters_; }

 private:
  struct Slot {
    TlsSession session;
    bool certificate_seen = false;  // a full handshake: the server sent its chain
    bool pin_failed = false;
    SmarthostTlsClient* owner = nullptr;
  };
  // The parts that handle Mbed TLS types, in smarthost_tls.cpp.
  struct Glue;

  bool count_ca();
  Slot* slot_of(TlsSession* session);

  CryptoRandom& random_;
  SslConfigStorage config_;
  CertificateStorage ca_;
  int ca_count_ = 0;
  std::array<char, 256> host_name_{};  // NUL-terminated for Mbed TLS
  std::array<std::uint8_t, 32> pin_sha256_{};
  bool pinned_ = false;
  SslSessionStorage saved_session_;
  bool has_saved_session_ = false;
  std::array<Slot, PIGEON_SMARTHOST_CONNECTIONS> slots_;
  Counters counters_;
  std::string_view last_verify_failure_;
};

}  // namespace pigeon
