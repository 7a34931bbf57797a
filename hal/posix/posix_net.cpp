#include "posix_net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "socket_address.hpp"

namespace pigeon::hal {
namespace {

// Nagle's algorithm off on every stream: a reply written in several sends, or
// the second reply of a round, must not wait for the peer's delayed ACK
// (docs/architecture.md §9). Flights are gathered by MSG_MORE instead (send()).
void disable_nagle(int fd) {
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

bool make_non_blocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

NetStatus status_from_errno(int error) {
  switch (error) {
    case EAGAIN: return NetStatus::would_block;
    case EADDRINUSE: return NetStatus::address_in_use;
    case ECONNREFUSED:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ETIMEDOUT: return NetStatus::refused;
    case EPIPE:
    case ECONNRESET: return NetStatus::closed;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: return NetStatus::no_resources;
    default: return NetStatus::error;
  }
}

// A socket file left by a relay that is gone (nobody accepts on it) is removed
// so that bind() can make it again; false when a relay still answers there.
bool remove_stale_socket(const sockaddr_un& address) {
  struct stat status{};
  if (::lstat(address.sun_path, &status) != 0) return true;
  if (!S_ISSOCK(status.st_mode)) return true;  // bind() will say the path is taken
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  if (probe >= 0) ::close(probe);
  if (live) return false;
  ::unlink(address.sun_path);
  return true;
}

}  // namespace

PosixNet::PosixNet() { listeners_.fill(-1); }

PosixNet::~PosixNet() {
  for (int fd : listeners_) {
    if (fd >= 0) ::close(fd);
  }
  for (const Stream& stream : streams_) {
    if (stream.fd >= 0) ::close(stream.fd);
  }
}

NetStatus PosixNet::listen(const Endpoint& local, ListenerId& out) {
  if (!free_listener_slot()) return NetStatus::no_resources;
  const int fd = ::socket(local.address.is_v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return status_from_errno(errno);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_storage address;
  const socklen_t length = to_sockaddr(local, address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    const NetStatus status = status_from_errno(errno);
    ::close(fd);
    return status;
  }
  return adopt_listener(fd, out);
}

NetStatus PosixNet::listen_local(const char* path, unsigned mode, ListenerId& out) {
  if (!free_listener_slot()) return NetStatus::no_resources;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof address.sun_path) return NetStatus::error;
  std::strcpy(address.sun_path, path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return status_from_errno(errno);
  if (!remove_stale_socket(address)) {
    ::close(fd);
    return NetStatus::address_in_use;
  }
  // The file is made with `mode` at once: no moment when anyone may connect.
  const mode_t previous_mask = ::umask(static_cast<mode_t>(~mode & 0777));
  const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::umask(previous_mask);
  if (!bound || ::chmod(path, static_cast<mode_t>(mode)) != 0) {
    const NetStatus status = status_from_errno(errno);
    ::close(fd);
    return status;
  }
  return adopt_listener(fd, out);
}

std::optional<std::size_t> PosixNet::free_listener_slot() const {
  for (std::size_t slot = 0; slot < max_listeners; ++slot) {
    if (listeners_[slot] < 0) return slot;
  }
  return std::nullopt;
}

// A bound socket becomes a listener, or is closed.
NetStatus PosixNet::adopt_listener(int fd, ListenerId& out) {
  if (::listen(fd, 64) != 0 || !make_non_blocking(fd)) {
    const NetStatus status = status_from_errno(errno);
    ::close(fd);
    return status;
  }
  const std::size_t slot = *free_listener_slot();
  listeners_[slot] = fd;
  listener_ready_[slot] = true;
  listener_watched_[slot] = true;
  out = static_cast<ListenerId>(slot);
  return NetStatus::ok;
}

std::uint16_t PosixNet::local_port(ListenerId listener) {
  sockaddr_storage address;
  socklen_t length = sizeof address;
  if (::getsockname(listeners_[static_cast<std::size_t>(listener)],
                    reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return 0;
  }
  return from_sockaddr(address).port;
}

NetStatus PosixNet::accept(ListenerId listener, StreamId& out, Endpoint& peer) {
  const auto slot = static_cast<std::size_t>(listener);
  if (!listener_ready_[slot]) return NetStatus::would_block;
  sockaddr_storage address;
  socklen_t length = sizeof address;
  const int fd = ::accept4(listeners_[slot], reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EAGAIN) return status_from_errno(errno);
    listener_ready_[slot] = false;
    return NetStatus::would_block;
  }
  out = adopt_stream(fd, false);
  if (out == invalid_id) return NetStatus::no_resources;
  peer = from_sockaddr(address);
  return NetStatus::ok;
}

NetStatus PosixNet::connect(const Endpoint& remote, StreamId& out) {
  const int fd = ::socket(remote.address.is_v6 ? AF_INET6 : AF_INET,
                          SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return status_from_errno(errno);
  sockaddr_storage address;
  const socklen_t length = to_sockaddr(remote, address);
  const bool started = ::connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0;
  if (!started && errno != EINPROGRESS) {
    const NetStatus status = status_from_errno(errno);
    ::close(fd);
    return status;
  }
  out = adopt_stream(fd, !started);
  return out == invalid_id ? NetStatus::no_resources : NetStatus::ok;
}

bool PosixNet::connected(StreamId id) {
  Stream* stream = find(id);
  if (stream == nullptr) return false;
  if (!stream->connecting) return true;
  pollfd probe{stream->fd, POLLOUT, 0};
  if (::poll(&probe, 1, 0) <= 0) return false;
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(stream->fd, SOL_SOCKET, SO_ERROR, &error, &length);
  // SO_ERROR is cleared by reading it, so remember a failure for receive().
  stream->connecting = false;
  stream->refused = error != 0;
  return error == 0;
}

IoResult PosixNet::receive(StreamId id, std::span<std::uint8_t> out) {
  Stream* stream = find(id);
  if (stream == nullptr) return {NetStatus::closed, 0};
  if (stream->refused) return {NetStatus::refused, 0};
  if (out.empty()) return {NetStatus::ok, 0};
  // A read that came back short emptied the socket's queue: until wait() sees
  // input again, another would only say EAGAIN. That was most reads of a
  // STARTTLS connection (35 of 55), each a system call for nothing. What
  // arrives meanwhile is not lost: poll(2) is level-triggered.
  if (!stream->may_have_input) return {NetStatus::would_block, 0};
  const ssize_t got = ::recv(stream->fd, out.data(), out.size(), 0);
  if (got > 0) {
    stream->may_have_input = static_cast<std::size_t>(got) == out.size();
    return {NetStatus::ok, static_cast<std::size_t>(got)};
  }
  if (got == 0) return {NetStatus::closed, 0};
  if (errno == EAGAIN || errno == EINTR) {
    stream->may_have_input = errno == EINTR;
    return {NetStatus::would_block, 0};
  }
  return {status_from_errno(errno), 0};
}

IoResult PosixNet::send(StreamId id, std::span<const std::uint8_t> data) {
  Stream* stream = find(id);
  if (stream == nullptr) return {NetStatus::closed, 0};
  if (data.empty()) return {NetStatus::ok, 0};
  // MSG_MORE holds a partial segment back until wait() flushes the round's
  // flight: a TLS handshake flight of six records leaves as one segment.
  const ssize_t sent = ::send(stream->fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_MORE);
  if (sent >= 0) {
    stream->unflushed = stream->unflushed || sent > 0;
    stream->wants_write = static_cast<std::size_t>(sent) < data.size();
    return {NetStatus::ok, static_cast<std::size_t>(sent)};
  }
  if (errno == EAGAIN || errno == EINTR) {
    stream->wants_write = true;
    return {NetStatus::would_block, 0};
  }
  return {status_from_errno(errno), 0};
}

void PosixNet::set_no_delay(StreamId id) {
  if (Stream* stream = find(id)) {
    // Every stream has TCP_NODELAY already; what is left is the peer's last
    // handshake flight, whose ACK the kernel would delay by up to 40 ms while
    // the peer's Nagle holds its first command back for that ACK.
    const int on = 1;
    ::setsockopt(stream->fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
  }
}

void PosixNet::close(StreamId id) {
  if (Stream* stream = find(id)) {
    ::close(stream->fd);
    *stream = Stream{};
  }
}

void PosixNet::set_receive_interest(StreamId id, bool wanted) {
  if (Stream* stream = find(id)) stream->wants_read = wanted;
}

void PosixNet::set_accept_interest(ListenerId listener, bool wanted) {
  if (listener < 0 || static_cast<std::size_t>(listener) >= max_listeners) return;
  listener_watched_[static_cast<std::size_t>(listener)] = wanted;
}

// poll(2) is level-triggered: input is watched only where the relay will read
// it, or a stream it does not read would end every wait() at once.
void PosixNet::wait(std::uint32_t max_wait_ms) {
  flush_flights();
  nfds_t count = 0;
  for (std::size_t slot = 0; slot < max_listeners; ++slot) {
    if (listeners_[slot] < 0) continue;
    poll_set_[count++] = pollfd{listeners_[slot], static_cast<short>(listener_watched_[slot] ? POLLIN : 0), 0};
  }
  for (const Stream& stream : streams_) {
    if (stream.fd < 0) continue;
    const bool wants_write = stream.wants_write || stream.connecting;
    const auto events = (stream.wants_read ? POLLIN : 0) | (wants_write ? POLLOUT : 0);
    poll_set_[count++] = pollfd{stream.fd, static_cast<short>(events), 0};
  }
  ::poll(poll_set_.data(), count, static_cast<int>(max_wait_ms));
  nfds_t entry = 0;  // the listeners come first in poll_set_, in slot order
  for (std::size_t slot = 0; slot < max_listeners; ++slot) {
    if (listeners_[slot] < 0) continue;
    // An unwatched listener was not asked: accept() tries the system call.
    const bool ready = (poll_set_[entry++].revents & POLLIN) != 0;
    listener_ready_[slot] = ready || !listener_watched_[slot];
  }
  for (Stream& stream : streams_) {
    if (stream.fd < 0) continue;
    // POLLHUP and POLLERR come unasked: the read that follows reports them.
    const bool input = (poll_set_[entry++].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    stream.may_have_input = stream.may_have_input || input;
  }
}

// The round is over: what send() held back with MSG_MORE goes out now. Setting
// TCP_NODELAY again pushes a stream's pending segments (tcp(7)).
void PosixNet::flush_flights() {
  for (Stream& stream : streams_) {
    if (stream.fd < 0 || !stream.unflushed) continue;
    disable_nagle(stream.fd);
    stream.unflushed = false;
  }
}

StreamId PosixNet::adopt_stream(int fd, bool connecting) {
  for (std::size_t slot = 0; slot < max_streams; ++slot) {
    if (streams_[slot].fd < 0) {
      disable_nagle(fd);
      streams_[slot] = Stream{.fd = fd, .connecting = connecting};
      return static_cast<StreamId>(slot);
    }
  }
  ::close(fd);
  return invalid_id;
}

PosixNet::Stream* PosixNet::find(StreamId id) {
  if (id < 0 || static_cast<std::size_t>(id) >= max_streams) return nullptr;
  Stream& stream = streams_[static_cast<std::size_t>(id)];
  return stream.fd >= 0 ? &stream : nullptr;
}

}  // namespace pigeon::hal
