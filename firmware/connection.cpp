#include "connection.hpp"

#include <cstring>

#include "protocol/assert.hpp"

namespace pigeon {

void Connection::open(hal::Net& net, hal::StreamId stream, const hal::Endpoint& peer) {
  net_ = &net;
  stream_ = stream;
  peer_ = peer;
  state_ = TransportState::plain;
  tls_ = nullptr;
  reserved_tls_ = nullptr;
  tls_pool_ = nullptr;
  handshake_done_ = false;
  input_ended_ = false;
  heard_from_peer_ = false;
  watching_input_ = true;  // every new stream is watched for input
  lost_ = CloseReason::none;
  received_bytes_ = 0;
  output_.clear();
}

bool Connection::reserve_tls(TlsSessionPool& tls) {
  PIGEON_ASSERT(is_open());
  if (reserved_tls_ == nullptr) {
    reserved_tls_ = tls.acquire(*net_, stream_);
    tls_pool_ = &tls;
  }
  return reserved_tls_ != nullptr;
}

bool Connection::start_tls(TlsSessionPool& tls) {
  if (!reserve_tls(tls)) return false;
  tls_ = reserved_tls_;
  reserved_tls_ = nullptr;
  discard_received();
  state_ = TransportState::handshaking;
  return true;
}

bool Connection::take_handshake_done() {
  const bool done = handshake_done_;
  handshake_done_ = false;
  return done;
}

void Connection::consume(std::size_t count) {
  PIGEON_ASSERT(count <= received_bytes_);
  std::memmove(receive_storage_.data(), receive_storage_.data() + count, received_bytes_ - count);
  received_bytes_ -= count;
}

bool Connection::pump(bool receive) {
  if (state_ == TransportState::handshaking) {
    watch_input(true);  // Mbed TLS reads the peer's flights itself
    const std::uint32_t received_before = tls_->bytes_received();
    switch (tls_->handshake()) {
      case TlsStep::in_progress:
        // The peer's flight is activity: a slow client's handshake is not idleness.
        heard_from_peer_ |= tls_->bytes_received() != received_before;
        return tls_->bytes_received() != received_before;
      case TlsStep::failed:
        lost_ = CloseReason::tls_handshake_failed;
        return false;
      case TlsStep::done:
        state_ = TransportState::secure;
        handshake_done_ = true;
        // The server's first flight after the handshake must not wait for
        // Nagle's algorithm and the peer's delayed ACK (docs/architecture.md §9).
        net_->set_no_delay(stream_);
        return true;
    }
  }
  const bool sent = send_pending();
  const bool received = receive && receive_more();
  watch_input(receive && !input_ended_ && lost_ == CloseReason::none &&
              received_bytes_ < receive_storage_.size());
  return sent || received;
}

void Connection::watch_input(bool wanted) {
  if (wanted == watching_input_) return;
  watching_input_ = wanted;
  net_->set_receive_interest(stream_, wanted);
}

bool Connection::receive_more() {
  bool progressed = false;
  while (received_bytes_ < receive_storage_.size() && lost_ == CloseReason::none && !input_ended_) {
    const std::span<std::uint8_t> space(receive_storage_.data() + received_bytes_,
                                        receive_storage_.size() - received_bytes_);
    const hal::IoResult result = tls_ != nullptr ? tls_->read(space) : net_->receive(stream_, space);
    if (result.status == hal::NetStatus::would_block) break;
    if (result.status == hal::NetStatus::closed) {
      input_ended_ = true;
      progressed = true;
      break;
    }
    if (result.status != hal::NetStatus::ok) {
      lose(result.status);
      break;
    }
    received_bytes_ += result.bytes;
    heard_from_peer_ = true;
    progressed = true;
  }
  return progressed;
}

bool Connection::send_pending() {
  bool progressed = false;
  while (!output_.empty() && lost_ == CloseReason::none) {
    const auto pending = output_.pending();
    const hal::IoResult result = tls_ != nullptr ? tls_->write(pending) : net_->send(stream_, pending);
    if (result.status == hal::NetStatus::would_block || (result.status == hal::NetStatus::ok && result.bytes == 0)) break;
    if (result.status != hal::NetStatus::ok) {
      lose(result.status);
      break;
    }
    output_.consume(result.bytes);
    progressed = true;
  }
  return progressed;
}

void Connection::lose(hal::NetStatus status) {
  if (status == hal::NetStatus::closed) {
    lost_ = CloseReason::peer_closed;
  } else {
    lost_ = tls_ != nullptr ? CloseReason::tls_error : CloseReason::network_error;
  }
}

void Connection::close() {
  if (state_ == TransportState::idle) return;
  send_pending();
  if (tls_ != nullptr) {
    if (state_ == TransportState::secure && lost_ == CloseReason::none) tls_->close_notify();
    tls_pool_->release(tls_);
    tls_ = nullptr;
  }
  if (reserved_tls_ != nullptr) {
    tls_pool_->release(reserved_tls_);
    reserved_tls_ = nullptr;
  }
  net_->close(stream_);
  stream_ = hal::invalid_id;
  state_ = TransportState::idle;
}

}  // namespace pigeon
