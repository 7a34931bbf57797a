// One connection's bytes (a client of the relay, or the relay's own
// connection to its smarthost): the stream, TLS when it is on, a receive
// buffer the engine consumes from in place, and the output buffer the engine
// writes replies into. The session transport (session_transport.hpp) owns one
// and drives it.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "hal/net.hpp"
#include "pigeon_limits.hpp"
#include "protocol/output_buffer.hpp"
#include "tls_session.hpp"

namespace pigeon {

// Why a session's connection ends; every close is logged with one.
enum class CloseReason : std::uint8_t {
  none,                  // still open
  done,                  // the protocol ended: QUIT, or the engine ended the session
  peer_closed,           // the peer closed its side
  network_error,         // the stream failed (reset, unreachable)
  tls_handshake_failed,  // Mbed TLS refused the handshake (its TlsSession says why)
  tls_error,             // a TLS record failed after the handshake
  tls_unavailable,       // no TLS session was free
  idle_timeout,          // the peer was idle too long
  opening_timeout,       // no TLS handshake or first command within handshake_timeout_s
  evicted,               // the slot went to a new client: this unprotected session was idle
  goodbye_unread,        // idle again after our goodbye: the peer does not read
  time_limit,            // the session (or its DATA) lasted as long as it may
  shut_down,             // the relay stops
};

enum class TransportState : std::uint8_t {
  idle,           // slot free
  plain,          // bytes flow without TLS
  handshaking,    // TLS handshake in progress; no application bytes
  secure,         // TLS established
  closing,        // draining output before the stream is closed
};

class Connection {
 public:
  Connection() : output_(output_storage_) {}

  void open(hal::Net& net, hal::StreamId stream, const hal::Endpoint& peer);
  bool is_open() const { return state_ != TransportState::idle; }

  // Starts a TLS handshake now with a session from `tls` (the server's pool, or
  // the smarthost client's): implicit TLS, or after the plaintext reply to
  // STARTTLS/STLS. Bytes received before it are discarded (RFC 3207 §4.2,
  // RFC 2595 §4). False when no TLS session slot is free.
  bool start_tls(TlsSessionPool& tls);
  // Sets a TLS session aside for start_tls(), so that the plaintext 220/+OK to
  // STARTTLS/STLS is sent only when a handshake can follow it. False when no
  // TLS session slot is free.
  bool reserve_tls(TlsSessionPool& tls);
  bool tls_active() const { return state_ == TransportState::secure; }
  // A TLS session of the pool is in use or set aside here.
  bool holds_tls() const { return tls_ != nullptr || reserved_tls_ != nullptr; }
  bool handshaking() const { return state_ == TransportState::handshaking; }

  // Moves bytes both ways as far as they go without blocking. Returns true when
  // anything moved or the handshake progressed. While the engine waits to start
  // TLS, `receive` is false: the client's first handshake bytes must stay in the
  // network stack for TLS, not land in the plaintext buffer. Afterwards the
  // network is asked to watch for input only if the next pump would read it.
  bool pump(bool receive = true);
  // The handshake finished during the last pump().
  bool take_handshake_done();

  std::span<const std::uint8_t> received() const { return {receive_storage_.data(), received_bytes_}; }
  void consume(std::size_t count);
  void discard_received() { received_bytes_ = 0; }
  protocol::OutputBuffer& output() { return output_; }
  bool output_drained() const { return output_.empty(); }

  // The peer closed its sending side (FIN, or close_notify under TLS): a read
  // shutdown only. What it sent before is still in received(), and replies
  // still go out until the output is drained or the peer resets.
  bool input_ended() const { return input_ended_; }
  // The peer has sent at least one byte (a command, a TLS handshake message).
  bool heard_from_peer() const { return heard_from_peer_; }
  // Why the connection cannot go on (the peer reset it, the network or TLS
  // failed); none while it works.
  CloseReason lost() const { return lost_; }
  // The TLS session in use, if any: after a TLS failure it says why.
  const TlsSession* tls_session() const { return tls_; }
  const hal::Endpoint& peer() const { return peer_; }
  hal::StreamId stream() const { return stream_; }

  // Flushes what it can, sends close_notify under TLS, closes the stream.
  void close();

 private:
  bool receive_more();
  bool send_pending();
  void lose(hal::NetStatus status);
  void watch_input(bool wanted);

  hal::Net* net_ = nullptr;
  hal::StreamId stream_ = hal::invalid_id;
  hal::Endpoint peer_;
  TransportState state_ = TransportState::idle;
  TlsSession* tls_ = nullptr;
  TlsSession* reserved_tls_ = nullptr;  // set aside by reserve_tls(), not yet in use
  TlsSessionPool* tls_pool_ = nullptr;
  bool handshake_done_ = false;
  bool input_ended_ = false;
  bool heard_from_peer_ = false;
  bool watching_input_ = true;  // what the network was last told (hal::Net::set_receive_interest)
  CloseReason lost_ = CloseReason::none;
  std::array<std::uint8_t, PIGEON_RECEIVE_BUFFER_BYTES> receive_storage_{};
  std::size_t received_bytes_ = 0;
  std::array<std::uint8_t, PIGEON_OUTPUT_BUFFER_BYTES> output_storage_{};
  protocol::OutputBuffer output_;
};

}  // namespace pigeon
