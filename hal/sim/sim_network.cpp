#include "sim_network.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/assert.hpp"

namespace pigeon::hal {
namespace {

bool same_address(const IpAddress& a, const IpAddress& b) {
  return a.is_v6 == b.is_v6 && std::memcmp(a.bytes, b.bytes, a.is_v6 ? 16 : 4) == 0;
}

bool loopback(const IpAddress& address) {
  if (!address.is_v6) return address.bytes[0] == 127;
  return std::all_of(address.bytes, address.bytes + 15, [](std::uint8_t byte) { return byte == 0; }) &&
         address.bytes[15] == 1;
}

bool unspecified(const IpAddress& address) {
  const std::size_t length = address.is_v6 ? 16 : 4;
  return std::all_of(address.bytes, address.bytes + length, [](std::uint8_t byte) { return byte == 0; });
}

}  // namespace

bool SimNetwork::add_host(const IpAddress& address, const SimLink& link, SimHostId& out) {
  if (host_count_ == max_hosts) return false;
  for (std::size_t i = 0; i < host_count_; ++i) {
    if (same_address(hosts_[i].address, address)) return false;
  }
  hosts_[host_count_] = Host{address, link, static_cast<SimHostId>(host_count_)};
  out = static_cast<SimHostId>(host_count_++);
  return true;
}

// ---- faults ----

// Overlapping cuts of one pair join: the link is back when the last one ends.
void SimNetwork::cut(SimHostId a, SimHostId b, std::uint64_t until_ms) {
  Cut* slot = nullptr;
  for (Cut& cut : cuts_) {
    const bool same_pair = cut.until_ms > now() && ((cut.a == a && cut.b == b) || (cut.a == b && cut.b == a));
    if (same_pair) {
      until_ms = std::max(until_ms, cut.until_ms);
      slot = &cut;
      break;
    }
    if (cut.until_ms <= now() && slot == nullptr) slot = &cut;
  }
  PIGEON_ASSERT(slot != nullptr);  // more overlapping cuts than the table holds: a scenario error
  *slot = Cut{a, b, now(), until_ms};
  const bool resets = until_ms - now() > reset_after_ms_;
  for (Connection& connection : connections_) {
    if (!connection.used) continue;
    const bool across = (connection.host[0] == a && connection.host[1] == b) ||
                        (connection.host[0] == b && connection.host[1] == a);
    if (!across) continue;
    if (resets) {
      reset(connection, now() + reset_after_ms_);
      continue;
    }
    // Flights in the air wait for the link; they keep their order.
    for (int end = 0; end < 2; ++end) {
      Direction& direction = connection.direction[end];
      for (std::uint32_t i = 0; i < direction.flight_count; ++i) {
        Flight& flight = direction.flights[(direction.first_flight + i) % max_flights];
        if (flight.arrival_ms > now()) {
          flight.arrival_ms = arrival_after_cut(connection.host[end], connection.host[1 - end], flight.arrival_ms);
        }
      }
      direction.last_arrival_ms = std::max(direction.last_arrival_ms, until_ms);
    }
  }
}

void SimNetwork::host_down(SimHostId host) {
  hosts_[host].powered = false;
  for (Listener& listener : listeners_) {
    if (listener.used && listener.host == host) listener = Listener{};
  }
  for (Connection& connection : connections_) {
    if (!connection.used) continue;
    for (int end = 0; end < 2; ++end) {
      if (connection.host[end] != host) continue;
      const bool waiting_for_accept = end == 1 && connection.listener >= 0;
      if (!connection.open[end] && !waiting_for_accept) continue;
      connection.open[end] = false;
      connection.listener = -1;
      const int peer = 1 - end;
      connection.reset_at_ms[peer] = std::min(connection.reset_at_ms[peer], now() + one_way_ms(host, connection.host[peer]));
      ++counters_.resets;
      release_if_done(connection);
    }
  }
}

void SimNetwork::reset(Connection& connection, std::uint64_t at_ms) {
  for (int end = 0; end < 2; ++end) connection.reset_at_ms[end] = std::min(connection.reset_at_ms[end], at_ms);
  ++counters_.resets;
}

const SimNetwork::Cut* SimNetwork::cut_between(SimHostId a, SimHostId b) const {
  for (const Cut& cut : cuts_) {
    if (cut.until_ms <= now()) continue;
    if ((cut.a == a && cut.b == b) || (cut.a == b && cut.b == a)) return &cut;
  }
  return nullptr;
}

// A flight that would cross a cut leaves again when the link heals.
std::uint64_t SimNetwork::arrival_after_cut(SimHostId from, SimHostId to, std::uint64_t arrival_ms) const {
  const Cut* cut = cut_between(from, to);
  if (cut == nullptr) return arrival_ms;
  const std::uint64_t latency = hosts_[from].link.latency_ms + hosts_[to].link.latency_ms;
  return std::max(arrival_ms, cut->until_ms + latency);
}

std::uint32_t SimNetwork::one_way_ms(SimHostId from, SimHostId to) {
  const SimLink& a = hosts_[from].link;
  const SimLink& b = hosts_[to].link;
  std::uint32_t ms = a.latency_ms + b.latency_ms;
  const std::uint32_t jitter = a.jitter_ms + b.jitter_ms;
  if (jitter > 0) ms += static_cast<std::uint32_t>(random_.below(jitter + 1));
  return ms;
}

// ---- listeners and connections ----

NetStatus SimNetwork::listen(SimHostId host, const Endpoint& local, ListenerId& out) {
  if (!hosts_[host].powered) return NetStatus::no_resources;
  const bool on_loopback = loopback(local.address);
  if (!unspecified(local.address) && !on_loopback && !same_address(local.address, hosts_[host].address)) {
    return NetStatus::error;
  }
  std::uint16_t port = local.port;
  if (port == 0) port = hosts_[host].next_port++;
  std::size_t free_slot = max_listeners;
  for (std::size_t i = 0; i < max_listeners; ++i) {
    const Listener& listener = listeners_[i];
    if (listener.used && listener.host == host && listener.port == port && listener.loopback == on_loopback) {
      return NetStatus::address_in_use;
    }
    if (!listener.used && free_slot == max_listeners) free_slot = i;
  }
  if (free_slot == max_listeners) return NetStatus::no_resources;
  listeners_[free_slot] = Listener{true, host, port, true, on_loopback};
  out = static_cast<ListenerId>(free_slot);
  return NetStatus::ok;
}

std::uint16_t SimNetwork::local_port(ListenerId listener) const {
  if (listener < 0 || static_cast<std::size_t>(listener) >= max_listeners) return 0;
  return listeners_[static_cast<std::size_t>(listener)].port;
}

// The connection that arrived first (then the lowest slot), so the order of
// accepts is the order of arrival and the same on every run.
NetStatus SimNetwork::accept(SimHostId host, ListenerId id, StreamId& out, Endpoint& peer) {
  if (id < 0 || static_cast<std::size_t>(id) >= max_listeners) return NetStatus::error;
  const Listener& listener = listeners_[static_cast<std::size_t>(id)];
  if (!listener.used || listener.host != host) return NetStatus::would_block;  // gone with a power cut
  Connection* first = nullptr;
  std::size_t first_index = 0;
  for (std::size_t i = 0; i < max_connections; ++i) {
    Connection& connection = connections_[i];
    if (!connection.used || connection.listener != id || connection.syn_arrival_ms > now()) continue;
    if (first == nullptr || connection.syn_arrival_ms < first->syn_arrival_ms) {
      first = &connection;
      first_index = i;
    }
  }
  if (first == nullptr) return NetStatus::would_block;
  first->listener = -1;
  first->open[1] = true;
  out = stream_id(first_index, 1);
  peer = Endpoint{hosts_[first->host[0]].address, first->port[0]};
  return NetStatus::ok;
}

bool SimNetwork::pending_for(std::size_t listener) const {
  std::size_t waiting = 0;
  for (const Connection& connection : connections_) {
    if (connection.used && connection.listener == static_cast<std::int16_t>(listener)) ++waiting;
  }
  return waiting >= backlog_limit;
}

NetStatus SimNetwork::connect(SimHostId host, const Endpoint& remote, StreamId& out) {
  if (!hosts_[host].powered) return NetStatus::no_resources;
  std::size_t slot = max_connections;
  for (std::size_t i = 0; i < max_connections; ++i) {
    if (!connections_[i].used) {
      slot = i;
      break;
    }
  }
  if (slot == max_connections) return NetStatus::no_resources;
  Connection& connection = connections_[slot];
  connection = Connection{};
  connection.used = true;
  connection.open[0] = true;
  connection.host = {host, host};
  connection.port = {hosts_[host].next_port++, remote.port};
  if (hosts_[host].next_port == 0) hosts_[host].next_port = 49152;
  out = stream_id(slot, 0);
  ++counters_.connections;

  // A loopback address leads to the caller's machine, and only to its loopback listeners.
  const bool to_loopback = loopback(remote.address);
  std::size_t peer_host = to_loopback ? hosts_[host].machine : host_count_;
  for (std::size_t i = 0; !to_loopback && i < host_count_; ++i) {
    if (same_address(hosts_[i].address, remote.address)) peer_host = i;
  }
  std::size_t listener = max_listeners;
  for (std::size_t i = 0; peer_host < host_count_ && i < max_listeners; ++i) {
    const Listener& candidate = listeners_[i];
    if (candidate.used && candidate.host == peer_host && candidate.port == remote.port &&
        candidate.loopback == to_loopback) {
      listener = i;
    }
  }
  if (peer_host == host_count_) {  // nobody has that address: unreachable
    connection.refused_at_ms = now() + hosts_[host].link.latency_ms;
    ++counters_.refused;
    return NetStatus::ok;
  }
  connection.host[1] = static_cast<SimHostId>(peer_host);
  const std::uint64_t syn_ms = now() + one_way_ms(host, connection.host[1]);
  const std::uint64_t syn_arrival = arrival_after_cut(host, connection.host[1], syn_ms);
  if (syn_arrival - now() > reset_after_ms_) {  // the SYN never gets through: the connect times out
    connection.refused_at_ms = now() + reset_after_ms_;
    ++counters_.refused;
    return NetStatus::ok;
  }
  if (listener == max_listeners || pending_for(listener)) {  // closed port, or a full backlog
    connection.refused_at_ms = syn_arrival + one_way_ms(connection.host[1], host);
    ++counters_.refused;
    return NetStatus::ok;
  }
  connection.listener = static_cast<std::int16_t>(listener);
  connection.syn_arrival_ms = syn_arrival;
  connection.established_ms = syn_arrival + one_way_ms(connection.host[1], host);
  for (Direction& direction : connection.direction) direction.last_arrival_ms = syn_arrival;
  return NetStatus::ok;
}

SimNetwork::Connection* SimNetwork::end_of(SimHostId host, StreamId stream, int& end) {
  const auto& self = *this;
  return const_cast<Connection*>(self.end_of(host, stream, end));
}

const SimNetwork::Connection* SimNetwork::end_of(SimHostId host, StreamId stream, int& end) const {
  if (stream < 0 || static_cast<std::size_t>(stream) >= max_connections * 2) return nullptr;
  const Connection& connection = connections_[static_cast<std::size_t>(stream) / 2];
  end = stream % 2;
  if (!connection.used || !connection.open[end] || connection.host[end] != host) return nullptr;
  return &connection;
}

bool SimNetwork::connected(SimHostId host, StreamId stream) const {
  int end = 0;
  const Connection* connection = end_of(host, stream, end);
  if (connection == nullptr) return false;
  if (end == 1) return true;
  return connection->refused_at_ms == never && connection->established_ms <= now();
}

// ---- bytes ----

std::uint32_t SimNetwork::arrived_bytes(const Direction& direction, std::uint64_t now_ms) {
  std::uint32_t bytes = 0;
  for (std::uint32_t i = 0; i < direction.flight_count; ++i) {
    const Flight& flight = direction.flights[(direction.first_flight + i) % max_flights];
    if (flight.arrival_ms > now_ms) break;
    bytes += flight.bytes;
  }
  return bytes;
}

IoResult SimNetwork::receive(SimHostId host, StreamId stream, std::span<std::uint8_t> out) {
  int end = 0;
  Connection* connection = end_of(host, stream, end);
  if (connection == nullptr) return {NetStatus::closed, 0};
  if (connection->refused_at_ms <= now()) return {NetStatus::refused, 0};
  if (connection->reset_at_ms[end] <= now()) return {NetStatus::closed, 0};
  if (end == 0 && connection->established_ms > now()) return {NetStatus::would_block, 0};
  Direction& in = connection->direction[1 - end];
  std::uint32_t wanted = static_cast<std::uint32_t>(std::min(out.size(), std::size_t{window_bytes}));
  std::uint32_t moved = 0;
  while (wanted > 0 && in.flight_count > 0) {
    Flight& flight = in.flights[in.first_flight];
    if (flight.arrival_ms > now()) break;
    const std::uint32_t take = std::min(wanted, flight.bytes);
    for (std::uint32_t i = 0; i < take; ++i) out[moved + i] = in.ring[(in.head + i) % window_bytes];
    in.head = (in.head + take) % window_bytes;
    in.count -= take;
    moved += take;
    wanted -= take;
    flight.bytes -= take;
    if (flight.bytes == 0) {
      in.first_flight = static_cast<std::uint32_t>((in.first_flight + 1) % max_flights);
      --in.flight_count;
    }
  }
  if (moved > 0) return {NetStatus::ok, moved};
  if (out.empty()) return {NetStatus::ok, 0};
  if (in.fin && in.count == 0 && in.fin_arrival_ms <= now()) return {NetStatus::closed, 0};
  return {NetStatus::would_block, 0};
}

// Arrival of a flight: after the slower link has sent it, the latencies and a
// jitter, a stall now and then, and any cut; never before the flight ahead.
void SimNetwork::schedule_flight(Connection& connection, int end, std::uint32_t bytes) {
  Direction& out = connection.direction[end];
  const SimHostId from = connection.host[end];
  const SimHostId to = connection.host[1 - end];
  const SimLink& a = hosts_[from].link;
  const SimLink& b = hosts_[to].link;
  std::uint32_t bandwidth = a.bytes_per_ms;
  if (bandwidth == 0 || (b.bytes_per_ms != 0 && b.bytes_per_ms < bandwidth)) bandwidth = b.bytes_per_ms;
  const std::uint64_t start_ms = std::max(now(), out.wire_free_ms);
  out.wire_free_ms = start_ms + (bandwidth == 0 ? 0 : (bytes + bandwidth - 1) / bandwidth);
  std::uint64_t arrival = out.wire_free_ms + one_way_ms(from, to);
  const std::uint32_t stall_chance = std::max(a.stall_per_million, b.stall_per_million);
  if (stall_chance > 0 && random_.chance(stall_chance)) {
    arrival += std::max(a.stall_ms, b.stall_ms);
    ++counters_.stalls;
  }
  arrival = std::max(arrival_after_cut(from, to, arrival), out.last_arrival_ms);
  out.last_arrival_ms = arrival;
  if (out.flight_count > 0) {
    Flight& last = out.flights[(out.first_flight + out.flight_count - 1) % max_flights];
    if (last.arrival_ms == arrival) {
      last.bytes += bytes;
      return;
    }
  }
  out.flights[(out.first_flight + out.flight_count) % max_flights] = Flight{arrival, bytes};
  ++out.flight_count;
}

IoResult SimNetwork::send(SimHostId host, StreamId stream, std::span<const std::uint8_t> data) {
  int end = 0;
  Connection* connection = end_of(host, stream, end);
  if (connection == nullptr) return {NetStatus::closed, 0};
  if (connection->refused_at_ms <= now()) return {NetStatus::refused, 0};
  if (connection->reset_at_ms[end] <= now()) return {NetStatus::closed, 0};
  if (end == 0 && connection->established_ms > now()) {
    connection->wants_write[end] = true;
    return {NetStatus::would_block, 0};
  }
  if (data.empty()) return {NetStatus::ok, 0};
  Direction& out = connection->direction[end];
  const bool peer_gone = !connection->open[1 - end] && connection->listener < 0;
  if (peer_gone) {  // the peer's end is closed: its stack drops what comes (a reset follows)
    connection->reset_at_ms[end] = std::min(connection->reset_at_ms[end], now() + 2 * one_way_ms(host, connection->host[1 - end]));
    return {NetStatus::ok, data.size()};
  }
  const std::uint32_t room = static_cast<std::uint32_t>(window_bytes) - out.count;
  if (room == 0 || out.flight_count == max_flights) {
    connection->wants_write[end] = true;
    return {NetStatus::would_block, 0};
  }
  const auto take = static_cast<std::uint32_t>(std::min<std::size_t>(room, data.size()));
  const std::uint32_t tail = (out.head + out.count) % window_bytes;
  for (std::uint32_t i = 0; i < take; ++i) out.ring[(tail + i) % window_bytes] = data[i];
  out.count += take;
  schedule_flight(*connection, end, take);
  connection->wants_write[end] = take < data.size();
  counters_.bytes_sent += take;
  return {NetStatus::ok, take};
}

// A FIN after the last flight; what the peer sends from now on is dropped.
void SimNetwork::close(SimHostId host, StreamId stream) {
  int end = 0;
  Connection* connection = end_of(host, stream, end);
  if (connection == nullptr) return;
  connection->open[end] = false;
  Direction& out = connection->direction[end];
  out.fin = true;
  out.fin_arrival_ms = std::max(out.last_arrival_ms, now() + one_way_ms(host, connection->host[1 - end]));
  out.fin_arrival_ms = arrival_after_cut(host, connection->host[1 - end], out.fin_arrival_ms);
  Direction& in = connection->direction[1 - end];
  in.count = 0;
  in.flight_count = 0;
  release_if_done(*connection);
}

void SimNetwork::release_if_done(Connection& connection) {
  if (!connection.open[0] && !connection.open[1] && connection.listener < 0) connection = Connection{};
}

void SimNetwork::set_receive_interest(SimHostId host, StreamId stream, bool wanted) {
  int end = 0;
  if (Connection* connection = end_of(host, stream, end)) connection->wants_read[end] = wanted;
}

void SimNetwork::set_accept_interest(SimHostId host, ListenerId id, bool wanted) {
  if (id < 0 || static_cast<std::size_t>(id) >= max_listeners) return;
  Listener& listener = listeners_[static_cast<std::size_t>(id)];
  if (listener.used && listener.host == host) listener.watched = wanted;
}

std::size_t SimNetwork::open_streams(SimHostId host) const {
  std::size_t open = 0;
  for (const Connection& connection : connections_) {
    for (int end = 0; end < 2; ++end) open += connection.used && connection.open[end] && connection.host[end] == host;
  }
  return open;
}

// ---- when each host has work ----

// As poll(2) would report it: a reset or a refused connect always, input and
// a peer's FIN only when the host reads, room to send when it waits for it.
std::uint64_t SimNetwork::due_time(const Connection& connection, int end) const {
  std::uint64_t due = std::min(connection.reset_at_ms[end], end == 0 ? connection.refused_at_ms : never);
  if (end == 0 && connection.established_ms > now()) return std::min(due, connection.established_ms);
  const Direction& in = connection.direction[1 - end];
  if (connection.wants_read[end]) {
    if (in.flight_count > 0) due = std::min(due, in.flights[in.first_flight].arrival_ms);
    if (in.fin && in.count == 0) due = std::min(due, in.fin_arrival_ms);
  }
  if (connection.wants_write[end] && connection.direction[end].count < window_bytes) due = std::min(due, now());
  return due;
}

void SimNetwork::lower_due_times(std::span<std::uint64_t> due_ms) const {
  for (const Connection& connection : connections_) {
    if (!connection.used) continue;
    if (connection.listener >= 0) {
      const Listener& listener = listeners_[static_cast<std::size_t>(connection.listener)];
      if (listener.watched) {
        std::uint64_t& due = due_ms[listener.host];
        due = std::min(due, connection.syn_arrival_ms);
      }
    }
    for (int end = 0; end < 2; ++end) {
      if (!connection.open[end]) continue;
      std::uint64_t& due = due_ms[connection.host[end]];
      due = std::min(due, due_time(connection, end));
    }
  }
}

void SimNet::wait(std::uint32_t max_wait_ms) { wake_at_ms_ = network_.now_ms() + max_wait_ms; }

}  // namespace pigeon::hal
