// A simulated network of hosts joined by TCP-like streams, in memory and in
// simulated time (docs/simulation.md). Each host sees it through a SimNet, the
// network HAL of hal/net.hpp; the simulator moves the time and asks which host
// has work when.
//
// What a stream does: bytes arrive in order, each flight after the two hosts'
// link latencies, a seeded jitter and the slower link's bandwidth; a flight
// may be held back by a lost segment's retransmission (a stall); the window of
// a direction bounds what is in flight and unread, so a peer that does not
// read stops its sender. Faults: a cut between two hosts holds every flight
// until it heals, and resets the streams across it once it lasts longer than
// reset_after_ms; a host going down resets its streams at its peers and drops
// its listeners; a port nobody listens on refuses.
//
// Everything is in fixed tables: the simulator allocates the network once.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "hal/net.hpp"
#include "hal/sim/sim_random.hpp"
#include "hal/sim/sim_time.hpp"

namespace pigeon::hal {

using SimHostId = std::uint8_t;

// One host's attachment to the network; a stream between two hosts adds the
// latencies and jitters of both and moves at the slower bandwidth.
struct SimLink {
  std::uint32_t latency_ms = 1;
  std::uint32_t jitter_ms = 0;          // up to this much more per flight
  std::uint32_t bytes_per_ms = 0;       // 0: unlimited
  std::uint32_t stall_per_million = 0;  // flights held back by a retransmission
  std::uint32_t stall_ms = 200;         // how long such a flight is held back
};

struct SimNetworkCounters {
  std::uint64_t bytes_sent = 0;
  std::uint64_t connections = 0;
  std::uint64_t refused = 0;
  std::uint64_t resets = 0;
  std::uint64_t stalls = 0;
};

class SimNetwork {
 public:
  static constexpr std::size_t max_hosts = 64;
  static constexpr std::size_t max_listeners = 64;
  static constexpr std::size_t max_connections = 512;
  static constexpr std::uint32_t window_bytes = 16 * 1024;
  static constexpr std::uint32_t max_flights = 48;  // per direction, in flight and unread
  static constexpr std::size_t backlog_limit = 32;
  static constexpr std::uint64_t never = UINT64_MAX;

  SimNetwork(const SimTime& time, std::uint64_t seed) : time_(time), random_(seed) {}

  // A host with address `address` (unique); false when the table is full.
  bool add_host(const IpAddress& address, const SimLink& link, SimHostId& out);
  const IpAddress& address(SimHostId host) const { return hosts_[host].address; }
  void set_link(SimHostId host, const SimLink& link) { hosts_[host].link = link; }
  // `host` runs on the machine of `machine_host` (a program beside a relay):
  // a connect from it to a loopback address (127.0.0.0/8, ::1) reaches that
  // machine's loopback listeners, which nobody else reaches. Hosts are their
  // own machine otherwise.
  void share_machine(SimHostId host, SimHostId machine_host) { hosts_[host].machine = hosts_[machine_host].machine; }

  // Nothing passes between `a` and `b` until `until_ms`: flights wait, new
  // connections wait, streams between them reset once the cut has lasted
  // reset_after_ms (a NAT entry or a peer that gave up).
  void cut(SimHostId a, SimHostId b, std::uint64_t until_ms);
  void set_reset_after_ms(std::uint64_t value) { reset_after_ms_ = value; }
  // A power cut: every stream of `host` is gone without a word (its peers see
  // a reset one latency later), its listeners are closed, and until
  // host_up() nothing it does reaches the network (the code that runs on in
  // the simulator after the instant of the cut would be dead on a board).
  void host_down(SimHostId host);
  void host_up(SimHostId host) { hosts_[host].powered = true; }

  // For every host, the earliest time at which it has something to act on
  // (`due_ms[host]` lowered to it; now or earlier: at once): input, a peer's
  // close or reset, a finished or refused connect, room to send after a full
  // window, a connection to accept, as far as the host has asked to be woken.
  void lower_due_times(std::span<std::uint64_t> due_ms) const;

  std::uint64_t now_ms() const { return time_.now_ms(); }
  const SimTime& time() const { return time_; }
  const SimNetworkCounters& counters() const { return counters_; }
  // Streams open at either end, for the end-of-run check that nothing leaks.
  std::size_t open_streams(SimHostId host) const;

  // The network HAL's operations on behalf of `host` (SimNet forwards here).
  NetStatus listen(SimHostId host, const Endpoint& local, ListenerId& out);
  std::uint16_t local_port(ListenerId listener) const;
  NetStatus accept(SimHostId host, ListenerId listener, StreamId& out, Endpoint& peer);
  NetStatus connect(SimHostId host, const Endpoint& remote, StreamId& out);
  bool connected(SimHostId host, StreamId stream) const;
  IoResult receive(SimHostId host, StreamId stream, std::span<std::uint8_t> out);
  IoResult send(SimHostId host, StreamId stream, std::span<const std::uint8_t> data);
  void close(SimHostId host, StreamId stream);
  void set_receive_interest(SimHostId host, StreamId stream, bool wanted);
  void set_accept_interest(SimHostId host, ListenerId listener, bool wanted);

 private:
  struct Host {
    IpAddress address;
    SimLink link;
    SimHostId machine = 0;  // the host whose loopback listeners its loopback connects reach
    std::uint16_t next_port = 49152;
    bool powered = true;
  };
  struct Flight {
    std::uint64_t arrival_ms;
    std::uint32_t bytes;
  };
  // The bytes one end sends to the other: a ring of the window's size holding
  // what is in flight and what arrived unread, and the flights that carry it.
  struct Direction {
    std::array<std::uint8_t, window_bytes> ring;
    std::uint32_t head = 0;   // the oldest unread byte
    std::uint32_t count = 0;  // bytes in flight and unread
    std::array<Flight, max_flights> flights;
    std::uint32_t first_flight = 0;
    std::uint32_t flight_count = 0;
    std::uint64_t last_arrival_ms = 0;  // flights arrive in order
    std::uint64_t wire_free_ms = 0;     // when the slower link has sent the last flight
    bool fin = false;                   // the sender closed after its last flight
    std::uint64_t fin_arrival_ms = 0;
  };
  // A connection: end 0 the side that connected, end 1 the side that accepted.
  struct Connection {
    bool used = false;
    std::array<SimHostId, 2> host{};
    std::array<std::uint16_t, 2> port{};
    std::int16_t listener = -1;            // while waiting to be accepted
    std::uint64_t syn_arrival_ms = 0;      // the accepting side may take it from then
    std::uint64_t established_ms = 0;      // the connecting side is connected from then
    std::uint64_t refused_at_ms = never;   // the connect failed, known then
    std::array<std::uint64_t, 2> reset_at_ms{never, never};  // each end learns the reset then
    std::array<bool, 2> open{};            // the end is held by its host
    std::array<bool, 2> wants_read{true, true};
    std::array<bool, 2> wants_write{};     // the last send found the window full
    std::array<Direction, 2> direction;    // [e]: from end e to the other
  };
  struct Listener {
    bool used = false;
    SimHostId host = 0;
    std::uint16_t port = 0;
    bool watched = true;
    bool loopback = false;  // reached only through a loopback address, from the host's machine
  };
  struct Cut {
    SimHostId a = 0, b = 0;
    std::uint64_t from_ms = 0, until_ms = 0;
  };

  std::uint64_t now() const { return time_.now_ms(); }
  Connection* end_of(SimHostId host, StreamId stream, int& end);
  const Connection* end_of(SimHostId host, StreamId stream, int& end) const;
  static StreamId stream_id(std::size_t connection, int end) { return static_cast<StreamId>(connection * 2 + end); }
  std::uint32_t one_way_ms(SimHostId from, SimHostId to);
  const Cut* cut_between(SimHostId a, SimHostId b) const;
  std::uint64_t arrival_after_cut(SimHostId from, SimHostId to, std::uint64_t arrival_ms) const;
  void schedule_flight(Connection& connection, int end, std::uint32_t bytes);
  void reset(Connection& connection, std::uint64_t at_ms);
  void release_if_done(Connection& connection);
  static std::uint32_t arrived_bytes(const Direction& direction, std::uint64_t now_ms);
  std::uint64_t due_time(const Connection& connection, int end) const;
  bool pending_for(std::size_t listener) const;

  const SimTime& time_;
  SimRandom random_;
  std::array<Host, max_hosts> hosts_{};
  std::size_t host_count_ = 0;
  std::array<Listener, max_listeners> listeners_{};
  std::array<Connection, max_connections> connections_{};
  std::array<Cut, 16> cuts_{};
  std::uint64_t reset_after_ms_ = 30'000;
  SimNetworkCounters counters_;
};

// The network HAL of one simulated host. wait() does not wait: it notes when
// the host wants to run again, and the simulator moves the time.
class SimNet final : public Net {
 public:
  SimNet(SimNetwork& network, SimHostId host) : network_(network), host_(host) {}

  SimHostId host() const { return host_; }
  // When the host asked to run again at the latest (its last wait()).
  std::uint64_t wake_at_ms() const { return wake_at_ms_; }
  void set_wake_at_ms(std::uint64_t at_ms) { wake_at_ms_ = at_ms; }

  NetStatus listen(const Endpoint& local, ListenerId& out) override { return network_.listen(host_, local, out); }
  std::uint16_t local_port(ListenerId listener) override { return network_.local_port(listener); }
  NetStatus accept(ListenerId listener, StreamId& out, Endpoint& peer) override {
    return network_.accept(host_, listener, out, peer);
  }
  NetStatus connect(const Endpoint& remote, StreamId& out) override { return network_.connect(host_, remote, out); }
  bool connected(StreamId stream) override { return network_.connected(host_, stream); }
  IoResult receive(StreamId stream, std::span<std::uint8_t> out) override {
    return network_.receive(host_, stream, out);
  }
  IoResult send(StreamId stream, std::span<const std::uint8_t> data) override {
    return network_.send(host_, stream, data);
  }
  void set_no_delay(StreamId) override {}  // flights leave at once anyway
  void close(StreamId stream) override { network_.close(host_, stream); }
  void set_receive_interest(StreamId stream, bool wanted) override {
    network_.set_receive_interest(host_, stream, wanted);
  }
  void set_accept_interest(ListenerId listener, bool wanted) override {
    network_.set_accept_interest(host_, listener, wanted);
  }
  void wait(std::uint32_t max_wait_ms) override;

 private:
  SimNetwork& network_;
  SimHostId host_;
  std::uint64_t wake_at_ms_ = 0;
};

}  // namespace pigeon::hal
