// Network HAL over lwIP's raw TCP API (NO_SYS=1): fixed tables of streams and
// listeners sized by lwipopts.h, received pbufs queued per stream until the relay
// reads them, and the receive window reopened (tcp_recved) only by what was read.
// Everything runs in the one thread of the main loop; lwIP's callbacks only record
// what happened and wake wait().
#pragma once

#include <lwip/opt.h>
#include <lwip/tcp.h>

#include <array>
#include <cstdint>
#include <string_view>

#include "hal/net.hpp"

namespace pigeon::hal {

// What the lwIP backend needs from the board: feed received frames into lwIP,
// and sleep until an interrupt (bare metal: WFI) or at most `max_ms`.
class NetDriver {
 public:
  virtual void service_interfaces() = 0;
  virtual void sleep(std::uint32_t max_ms) = 0;

 protected:
  ~NetDriver() = default;
};

class LwipNet final : public Net {
 public:
  static constexpr std::size_t max_listeners = MEMP_NUM_TCP_PCB_LISTEN;
  static constexpr std::size_t max_streams = MEMP_NUM_TCP_PCB;

  explicit LwipNet(NetDriver& driver) : driver_(driver) {}
  ~LwipNet();
  LwipNet(const LwipNet&) = delete;
  LwipNet& operator=(const LwipNet&) = delete;

  NetStatus listen(const Endpoint& local, ListenerId& out) override;
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

  // Resets the stream at once (RST), dropping queued data: for a peer that must
  // not hold a slot, and for tests of the error path.
  void abort(StreamId stream);

  // Looks a host name up with lwIP's DNS client: ok with `out` filled,
  // would_block while the query runs (call again after wait()), refused when the
  // name does not resolve. One lookup at a time; a new name replaces the old.
  NetStatus resolve(std::string_view host_name, IpAddress& out);

 private:
  enum class Phase : std::uint8_t {
    free,
    awaiting_accept,  // lwIP accepted it; the relay has not taken it yet
    connecting,
    open,
    failed,           // lwIP freed the pcb (reset, abort, timeout)
  };

  struct Stream {
    tcp_pcb* pcb = nullptr;
    pbuf* received = nullptr;  // chain of unread data, oldest first
    Phase phase = Phase::free;
    bool peer_closed = false;  // FIN received
    bool refused = false;      // connect failed
    bool unflushed = false;    // send() queued segments that wait() has not sent
    bool wants_read = true;    // input wakes wait() (set_receive_interest)
    ListenerId listener = invalid_id;
    std::uint32_t accept_order = 0;
    LwipNet* owner = nullptr;
  };

  struct Listener {
    tcp_pcb* pcb = nullptr;
    ListenerId id = invalid_id;
    bool watched = true;  // a connection wakes wait() (set_accept_interest)
    LwipNet* owner = nullptr;
  };

  struct Lookup {
    std::array<char, 256> name{};
    std::size_t name_length = 0;
    ip_addr_t address{};
    enum class State : std::uint8_t { idle, pending, found, failed } state = State::idle;
  };

  static err_t on_accept(void* arg, tcp_pcb* pcb, err_t err);
  static err_t on_connected(void* arg, tcp_pcb* pcb, err_t err);
  static err_t on_receive(void* arg, tcp_pcb* pcb, pbuf* data, err_t err);
  static err_t on_sent(void* arg, tcp_pcb* pcb, u16_t length);
  static void on_error(void* arg, err_t err);
  static void on_dns_found(const char* name, const ip_addr_t* address, void* arg);

  void flush_flights();
  Stream* find(StreamId id);
  Stream* free_stream();
  void attach(Stream& stream, tcp_pcb* pcb);
  void release(Stream& stream);
  StreamId id_of(const Stream& stream) const;

  NetDriver& driver_;
  std::array<Listener, max_listeners> listeners_{};
  std::array<Stream, max_streams> streams_{};
  std::uint32_t next_accept_order_ = 0;
  bool events_ = false;  // a callback ran since the last wait()
  Lookup lookup_;
};

}  // namespace pigeon::hal
