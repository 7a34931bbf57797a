#include "lwip_net.hpp"

#include <lwip/dns.h>
#include <lwip/sys.h>
#include <lwip/timeouts.h>

#include <algorithm>
#include <cstring>

namespace pigeon::hal {
namespace {

// This backend is IPv4 only, like the boards' lwIP builds.
bool to_lwip_address(const IpAddress& address, ip_addr_t& out) {
  if (address.is_v6) return false;
  IP_ADDR4(&out, address.bytes[0], address.bytes[1], address.bytes[2], address.bytes[3]);
  return true;
}

IpAddress from_lwip_address(const ip_addr_t& address) {
  IpAddress out;
  const std::uint32_t network_order = ip4_addr_get_u32(ip_2_ip4(&address));
  std::memcpy(out.bytes, &network_order, 4);
  return out;
}

NetStatus status_from_err(err_t err) {
  switch (err) {
    case ERR_USE: return NetStatus::address_in_use;
    case ERR_MEM:
    case ERR_BUF: return NetStatus::no_resources;
    case ERR_RTE:
    case ERR_CONN: return NetStatus::refused;
    default: return NetStatus::error;
  }
}

// Detaches pigeon's callbacks so lwIP never calls into a slot that was freed.
void detach_callbacks(tcp_pcb* pcb) {
  tcp_arg(pcb, nullptr);
  tcp_recv(pcb, nullptr);
  tcp_sent(pcb, nullptr);
  tcp_err(pcb, nullptr);
}

}  // namespace

LwipNet::~LwipNet() {
  for (Stream& stream : streams_) release(stream);
  for (Listener& listener : listeners_) {
    if (listener.pcb != nullptr) tcp_close(listener.pcb);
  }
}

NetStatus LwipNet::listen(const Endpoint& local, ListenerId& out) {
  const auto slot = std::find_if(listeners_.begin(), listeners_.end(),
                                 [](const Listener& l) { return l.pcb == nullptr; });
  if (slot == listeners_.end()) return NetStatus::no_resources;
  ip_addr_t address;
  if (!to_lwip_address(local.address, address)) return NetStatus::error;
  tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
  if (pcb == nullptr) return NetStatus::no_resources;
  if (const err_t err = tcp_bind(pcb, &address, local.port); err != ERR_OK) {
    tcp_close(pcb);
    return status_from_err(err);
  }
  tcp_pcb* listening = tcp_listen(pcb);  // frees `pcb` on success only
  if (listening == nullptr) {
    tcp_close(pcb);
    return NetStatus::no_resources;
  }
  slot->pcb = listening;
  slot->id = static_cast<ListenerId>(slot - listeners_.begin());
  slot->owner = this;
  tcp_arg(listening, &*slot);
  tcp_accept(listening, on_accept);
  out = slot->id;
  return NetStatus::ok;
}

std::uint16_t LwipNet::local_port(ListenerId listener) {
  if (listener < 0 || static_cast<std::size_t>(listener) >= max_listeners) return 0;
  const tcp_pcb* pcb = listeners_[static_cast<std::size_t>(listener)].pcb;
  return pcb != nullptr ? pcb->local_port : 0;
}

NetStatus LwipNet::accept(ListenerId listener, StreamId& out, Endpoint& peer) {
  Stream* oldest = nullptr;
  for (Stream& stream : streams_) {
    if (stream.phase != Phase::awaiting_accept || stream.listener != listener) continue;
    // Signed distance: the order counter may wrap.
    if (oldest == nullptr || static_cast<std::int32_t>(stream.accept_order - oldest->accept_order) < 0) {
      oldest = &stream;
    }
  }
  if (oldest == nullptr) return NetStatus::would_block;
  oldest->phase = Phase::open;
  peer.address = from_lwip_address(oldest->pcb->remote_ip);
  peer.port = oldest->pcb->remote_port;
  out = id_of(*oldest);
  return NetStatus::ok;
}

NetStatus LwipNet::connect(const Endpoint& remote, StreamId& out) {
  ip_addr_t address;
  if (!to_lwip_address(remote.address, address)) return NetStatus::refused;
  Stream* stream = free_stream();
  if (stream == nullptr) return NetStatus::no_resources;
  tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
  if (pcb == nullptr) return NetStatus::no_resources;
  attach(*stream, pcb);
  stream->phase = Phase::connecting;
  if (const err_t err = tcp_connect(pcb, &address, remote.port, on_connected); err != ERR_OK) {
    release(*stream);
    return status_from_err(err);
  }
  out = id_of(*stream);
  return NetStatus::ok;
}

bool LwipNet::connected(StreamId id) {
  const Stream* stream = find(id);
  return stream != nullptr && stream->phase == Phase::open;
}

IoResult LwipNet::receive(StreamId id, std::span<std::uint8_t> out) {
  Stream* stream = find(id);
  if (stream == nullptr) return {NetStatus::closed, 0};
  if (stream->refused) return {NetStatus::refused, 0};
  if (stream->received == nullptr) {
    const bool ended = stream->peer_closed || stream->phase == Phase::failed;
    return {ended ? NetStatus::closed : NetStatus::would_block, 0};
  }
  if (out.empty()) return {NetStatus::ok, 0};
  const auto count = static_cast<u16_t>(std::min<std::size_t>(out.size(), stream->received->tot_len));
  pbuf_copy_partial(stream->received, out.data(), count, 0);
  stream->received = pbuf_free_header(stream->received, count);
  // The window reopens only by what the relay took: a slow engine slows the peer.
  if (stream->pcb != nullptr) tcp_recved(stream->pcb, count);
  return {NetStatus::ok, count};
}

IoResult LwipNet::send(StreamId id, std::span<const std::uint8_t> data) {
  Stream* stream = find(id);
  if (stream == nullptr || stream->pcb == nullptr) return {NetStatus::closed, 0};
  if (stream->phase == Phase::connecting) return {NetStatus::would_block, 0};
  if (data.empty()) return {NetStatus::ok, 0};
  // Back-pressure: take no more than lwIP's send buffer and segment queue hold.
  const std::size_t room = std::min<std::size_t>({tcp_sndbuf(stream->pcb), data.size(), 0xFFFF});
  if (room == 0 || tcp_sndqueuelen(stream->pcb) >= TCP_SND_QUEUELEN) return {NetStatus::would_block, 0};
  const err_t err = tcp_write(stream->pcb, data.data(), static_cast<u16_t>(room), TCP_WRITE_FLAG_COPY);
  if (err == ERR_MEM) {
    // Pools are short for now; what is queued goes out and sent() wakes us.
    tcp_output(stream->pcb);
    return {NetStatus::would_block, 0};
  }
  if (err != ERR_OK) return {NetStatus::closed, 0};
  // Queued only: wait() sends the round's whole flight at once (flush_flights).
  stream->unflushed = true;
  return {NetStatus::ok, room};
}

void LwipNet::set_no_delay(StreamId id) {
  Stream* stream = find(id);
  if (stream == nullptr || stream->pcb == nullptr) return;
  // Nagle is off on every stream already (attach); what is left is the ACK of
  // the peer's last handshake flight, which lwIP would delay to its next fast
  // timer (up to 250 ms) while the peer's Nagle holds its first command back.
  tcp_set_flags(stream->pcb, TF_ACK_NOW);
  tcp_output(stream->pcb);
}

void LwipNet::close(StreamId id) {
  if (Stream* stream = find(id)) release(*stream);
}

// Input and connections queue in lwIP either way (bounded by the receive
// window and the pcb pool); interest only decides whether they wake wait().
void LwipNet::set_receive_interest(StreamId id, bool wanted) {
  Stream* stream = find(id);
  if (stream == nullptr) return;
  stream->wants_read = wanted;
  if (wanted && (stream->received != nullptr || stream->peer_closed)) events_ = true;
}

// Turned on again: the next wait() returns at once, as a connection may wait.
void LwipNet::set_accept_interest(ListenerId listener, bool wanted) {
  if (listener < 0 || static_cast<std::size_t>(listener) >= max_listeners) return;
  listeners_[static_cast<std::size_t>(listener)].watched = wanted;
  events_ = events_ || wanted;
}

void LwipNet::abort(StreamId id) {
  Stream* stream = find(id);
  if (stream == nullptr) return;
  if (stream->pcb != nullptr) {
    detach_callbacks(stream->pcb);
    tcp_abort(stream->pcb);
    stream->pcb = nullptr;
  }
  release(*stream);
}

void LwipNet::wait(std::uint32_t max_wait_ms) {
  flush_flights();
  const std::uint32_t start_ms = sys_now();
  for (;;) {
    driver_.service_interfaces();
    sys_check_timeouts();
    const std::uint32_t elapsed_ms = sys_now() - start_ms;
    if (events_ || elapsed_ms >= max_wait_ms) break;
    driver_.sleep(std::min(max_wait_ms - elapsed_ms, sys_timeouts_sleeptime()));
  }
  events_ = false;
}

NetStatus LwipNet::resolve(std::string_view host_name, IpAddress& out) {
  const std::string_view current(lookup_.name.data(), lookup_.name_length);
  if (lookup_.state != Lookup::State::idle && current == host_name) {
    switch (lookup_.state) {
      case Lookup::State::found: out = from_lwip_address(lookup_.address); return NetStatus::ok;
      case Lookup::State::failed: return NetStatus::refused;
      default: return NetStatus::would_block;
    }
  }
  if (host_name.empty() || host_name.size() >= lookup_.name.size()) return NetStatus::refused;
  std::memcpy(lookup_.name.data(), host_name.data(), host_name.size());
  lookup_.name[host_name.size()] = '\0';
  lookup_.name_length = host_name.size();
  lookup_.state = Lookup::State::pending;
  const err_t err = dns_gethostbyname(lookup_.name.data(), &lookup_.address, on_dns_found, this);
  if (err == ERR_OK) lookup_.state = Lookup::State::found;
  if (err != ERR_OK && err != ERR_INPROGRESS) lookup_.state = Lookup::State::failed;
  return resolve(host_name, out);
}

err_t LwipNet::on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  if (err != ERR_OK || pcb == nullptr || arg == nullptr) return ERR_VAL;
  auto* listener = static_cast<Listener*>(arg);
  LwipNet& self = *listener->owner;
  Stream* stream = self.free_stream();
  if (stream == nullptr) {
    tcp_abort(pcb);  // every slot is taken: the peer sees a reset, not a hang
    return ERR_ABRT;
  }
  self.attach(*stream, pcb);
  stream->phase = Phase::awaiting_accept;
  stream->listener = listener->id;
  stream->accept_order = self.next_accept_order_++;
  self.events_ = self.events_ || listener->watched;
  return ERR_OK;
}

err_t LwipNet::on_connected(void* arg, tcp_pcb*, err_t) {
  auto* stream = static_cast<Stream*>(arg);
  if (stream == nullptr) return ERR_OK;
  stream->phase = Phase::open;
  stream->owner->events_ = true;
  return ERR_OK;
}

err_t LwipNet::on_receive(void* arg, tcp_pcb*, pbuf* data, err_t err) {
  auto* stream = static_cast<Stream*>(arg);
  if (stream == nullptr) {
    if (data != nullptr) pbuf_free(data);
    return ERR_OK;
  }
  stream->owner->events_ = stream->owner->events_ || stream->wants_read;
  if (data == nullptr) {
    stream->peer_closed = true;
    return ERR_OK;
  }
  if (err != ERR_OK) {
    pbuf_free(data);
    return ERR_OK;
  }
  // Bounded by the receive window: only read bytes reopen it.
  if (stream->received == nullptr) {
    stream->received = data;
  } else {
    pbuf_cat(stream->received, data);
  }
  return ERR_OK;
}

err_t LwipNet::on_sent(void* arg, tcp_pcb*, u16_t) {
  if (auto* stream = static_cast<Stream*>(arg)) stream->owner->events_ = true;
  return ERR_OK;
}

// lwIP has already freed the pcb (reset, abort or retransmission timeout).
void LwipNet::on_error(void* arg, err_t) {
  auto* stream = static_cast<Stream*>(arg);
  if (stream == nullptr) return;
  LwipNet& self = *stream->owner;
  self.events_ = true;
  stream->pcb = nullptr;
  if (stream->phase == Phase::awaiting_accept) {
    self.release(*stream);  // the relay never saw it
    return;
  }
  stream->refused = stream->phase == Phase::connecting;
  stream->phase = Phase::failed;
}

void LwipNet::on_dns_found(const char* name, const ip_addr_t* address, void* arg) {
  auto& self = *static_cast<LwipNet*>(arg);
  Lookup& lookup = self.lookup_;
  if (lookup.state != Lookup::State::pending || std::strcmp(name, lookup.name.data()) != 0) return;
  if (address != nullptr) {
    lookup.address = *address;
    lookup.state = Lookup::State::found;
  } else {
    lookup.state = Lookup::State::failed;
  }
  self.events_ = true;
}

// The round is over: the segments send() queued go out together.
void LwipNet::flush_flights() {
  for (Stream& stream : streams_) {
    if (stream.unflushed && stream.pcb != nullptr) tcp_output(stream.pcb);
    stream.unflushed = false;
  }
}

LwipNet::Stream* LwipNet::find(StreamId id) {
  if (id < 0 || static_cast<std::size_t>(id) >= max_streams) return nullptr;
  Stream& stream = streams_[static_cast<std::size_t>(id)];
  const bool visible = stream.phase != Phase::free && stream.phase != Phase::awaiting_accept;
  return visible ? &stream : nullptr;
}

LwipNet::Stream* LwipNet::free_stream() {
  for (Stream& stream : streams_) {
    if (stream.phase == Phase::free) return &stream;
  }
  return nullptr;
}

void LwipNet::attach(Stream& stream, tcp_pcb* pcb) {
  stream = Stream{};
  stream.pcb = pcb;
  stream.owner = this;
  // Replies of several sends, and a round's second reply, must not wait for the
  // peer's delayed ACK (docs/architecture.md §9): wait() gathers flights instead.
  tcp_nagle_disable(pcb);
  tcp_arg(pcb, &stream);
  tcp_recv(pcb, on_receive);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_error);
}

// Frees the slot: unread data goes back to the pools and the connection closes
// gracefully (FIN after queued output), or is reset when lwIP cannot close it.
void LwipNet::release(Stream& stream) {
  if (stream.received != nullptr) {
    // Count unread bytes as read, so lwIP closes with FIN rather than a reset.
    if (stream.pcb != nullptr) tcp_recved(stream.pcb, stream.received->tot_len);
    pbuf_free(stream.received);
  }
  if (stream.pcb != nullptr) {
    detach_callbacks(stream.pcb);
    if (tcp_close(stream.pcb) != ERR_OK) tcp_abort(stream.pcb);
  }
  stream = Stream{};
}

StreamId LwipNet::id_of(const Stream& stream) const {
  return static_cast<StreamId>(&stream - streams_.data());
}

}  // namespace pigeon::hal
