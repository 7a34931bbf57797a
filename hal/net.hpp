// Network HAL: non-blocking TCP streams. Backends: hal/posix (sockets + poll(2))
// and hal/lwip (raw TCP API, NO_SYS=1). All calls return at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pigeon::hal {

struct IpAddress {
  bool is_v6 = false;
  std::uint8_t bytes[16] = {};  // v4 uses the first 4 bytes, network order
};

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;
  bool local = false;  // a client of a local (Unix-domain) socket: it has no address
};

// Small integer handles; the backend owns the table behind them.
using ListenerId = std::int16_t;
using StreamId = std::int16_t;
inline constexpr std::int16_t invalid_id = -1;

enum class NetStatus {
  ok,
  would_block,     // nothing to read, or no room to send: try again after wait()
  closed,          // the peer closed its side (receive), or the stream is gone
  address_in_use,  // listen: the port is taken
  refused,         // connect: the peer refused or is unreachable
  no_resources,    // the backend's fixed table is full
  error,
};

struct IoResult {
  NetStatus status;
  std::size_t bytes;  // bytes moved when status == ok
};

class Net {
 public:
  virtual NetStatus listen(const Endpoint& local, ListenerId& out) = 0;
  // The port actually bound (useful when `local.port` was 0).
  virtual std::uint16_t local_port(ListenerId listener) = 0;
  // ok with a new stream, or would_block when no connection is waiting.
  virtual NetStatus accept(ListenerId listener, StreamId& out, Endpoint& peer) = 0;
  // Starts a connection; `connected()` tells when it is up, `receive` reports
  // `refused` when it failed.
  virtual NetStatus connect(const Endpoint& remote, StreamId& out) = 0;
  virtual bool connected(StreamId stream) = 0;
  virtual IoResult receive(StreamId stream, std::span<std::uint8_t> out) = 0;
  // Takes what fits. Nothing waits for Nagle's algorithm: what a loop round
  // sent leaves by the next wait() at the latest, gathered into as few segments
  // as the backend can (docs/architecture.md §9).
  virtual IoResult send(StreamId stream, std::span<const std::uint8_t> data) = 0;
  // Called when a TLS handshake completes: acknowledges the peer's last flight
  // now. A client speaks first after STARTTLS/STLS and its Nagle holds that
  // command back until this ACK, which a delayed ACK would make wait.
  virtual void set_no_delay(StreamId stream) = 0;
  // Graceful close after pending output; the id is free afterwards.
  virtual void close(StreamId stream) = 0;
  // Which events wait() wakes for. A stream is watched for input and a listener
  // for connections until the relay says otherwise: it turns input off while it
  // would not read (its receive buffer is full, the peer's side is closed, the
  // session waits) and accepting off while it could give no slot, because a
  // stream or listener with work nobody takes would end every wait() at once.
  // Turning interest on again wakes the next wait() if work is waiting already.
  virtual void set_receive_interest(StreamId stream, bool wanted) = 0;
  virtual void set_accept_interest(ListenerId listener, bool wanted) = 0;
  // Blocks (host) or sleeps (boards) until a stream may have work or
  // `max_wait_ms` passes; returns at once when work is already pending.
  virtual void wait(std::uint32_t max_wait_ms) = 0;

 protected:
  ~Net() = default;
};

}  // namespace pigeon::hal
