// Network HAL on POSIX: non-blocking sockets in fixed tables, poll(2) in wait().
#pragma once

#include <poll.h>

#include <array>
#include <optional>

#include "hal/net.hpp"

namespace pigeon::hal {

class PosixNet final : public Net {
 public:
  // The host's seven services, the alert endpoint, the local socket, and room to spare.
  static constexpr std::size_t max_listeners = 12;
  static constexpr std::size_t max_streams = 128;

  PosixNet();
  ~PosixNet();
  PosixNet(const PosixNet&) = delete;
  PosixNet& operator=(const PosixNet&) = delete;

  NetStatus listen(const Endpoint& local, ListenerId& out) override;
  // A Unix-domain stream socket at `path` (host only: the local socket of
  // docs/routers.md), created with file mode `mode`, so the file's owner and
  // mode decide who may connect. A stale socket file that nobody answers on is
  // replaced; a live one is address_in_use. accept() works on it as on TCP,
  // with an all-zero peer; local_port() is 0.
  NetStatus listen_local(const char* path, unsigned mode, ListenerId& out);
  std::uint16_t local_port(ListenerId listener) override;
  NetStatus accept(ListenerId listener, StreamId& out, Endpoint& peer) override;
  NetStatus connect(const Endpoint& remote, StreamId& out) override;
  bool connected(StreamId stream) override;
  IoResult receive(StreamId stream, std::span<std::uint8_t> out) override;
  IoResult send(StreamId stream, std::span<const std::uint8_t> data) override;
  void set_no_delay(StreamId stream) override;
  void close(StreamId stream) override;
  void set_receive_interest(StreamId stream, bool wanted) override;
  void set_accept_interest(ListenerId listener, bool wanted) override;
  void wait(std::uint32_t max_wait_ms) override;

 private:
  struct Stream {
    int fd = -1;
    bool connecting = false;    // connect() in progress
    bool refused = false;       // connect() failed; receive() says so
    bool wants_write = false;   // the last send could not take everything
    bool unflushed = false;     // sent with MSG_MORE since the last wait()
    bool wants_read = true;     // wait() watches for input (set_receive_interest)
    // Input may be waiting: the last wait() saw some, or no read since came
    // back short. receive() skips the system call otherwise.
    bool may_have_input = true;
  };

  void flush_flights();
  std::optional<std::size_t> free_listener_slot() const;
  NetStatus adopt_listener(int fd, ListenerId& out);
  StreamId adopt_stream(int fd, bool connecting);
  Stream* find(StreamId stream);

  std::array<int, max_listeners> listeners_;
  // Whether the last wait() saw a connection waiting: accept() skips the system
  // call for the others, which the relay asks about on every loop round.
  std::array<bool, max_listeners> listener_ready_{};
  // Listeners wait() watches (set_accept_interest).
  std::array<bool, max_listeners> listener_watched_{};
  std::array<Stream, max_streams> streams_;
  std::array<pollfd, max_listeners + max_streams> poll_set_;
};

}  // namespace pigeon::hal
