#include "posix_resolver.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "socket_address.hpp"

namespace pigeon::hal {
namespace {

using protocol::DnsOutcome;
using protocol::DnsType;

// A resolv.conf is a few lines; a longer one is read this far.
constexpr std::size_t max_resolv_conf_bytes = 4096;
// Datagrams read per call: a flood of foreign ones cannot hold up the loop.
constexpr int max_datagrams_per_call = 8;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view next_field(std::string_view& line) {
  while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
  std::size_t end = 0;
  while (end < line.size() && !is_blank(line[end])) ++end;
  const std::string_view field = line.substr(0, end);
  line.remove_prefix(end);
  return field;
}

std::optional<IpAddress> parse_address(std::string_view text) {
  std::array<char, 64> terminated{};
  if (text.empty() || text.size() >= terminated.size()) return std::nullopt;
  text.copy(terminated.data(), text.size());
  IpAddress address;
  if (::inet_pton(AF_INET, terminated.data(), address.bytes) == 1) return address;
  address.is_v6 = true;
  if (::inet_pton(AF_INET6, terminated.data(), address.bytes) == 1) return address;
  return std::nullopt;
}

// resolv.conf(5): without a nameserver line, the name server on this machine.
IpAddress local_nameserver() {
  IpAddress address;
  address.bytes[0] = 127;
  address.bytes[3] = 1;
  return address;
}

IpAddress read_nameserver(const char* path) {
  std::array<char, max_resolv_conf_bytes> text{};
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return local_nameserver();
  const ssize_t length = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (length <= 0) return local_nameserver();
  return first_nameserver({text.data(), static_cast<std::size_t>(length)}).value_or(local_nameserver());
}

}  // namespace

std::optional<IpAddress> first_nameserver(std::string_view resolv_conf) {
  while (!resolv_conf.empty()) {
    const std::size_t end = resolv_conf.find('\n');
    std::string_view line = resolv_conf.substr(0, end);
    resolv_conf.remove_prefix(end == std::string_view::npos ? resolv_conf.size() : end + 1);
    if (next_field(line) != "nameserver") continue;
    // A scoped IPv6 address ("fe80::1%eth0") is skipped: it needs an interface.
    if (const auto address = parse_address(next_field(line))) return address;
  }
  return std::nullopt;
}

PosixResolver::PosixResolver(Clock& clock, Entropy& entropy, const char* resolv_conf_path,
                             std::uint16_t server_port)
    : clock_(clock), entropy_(entropy), resolv_conf_path_(resolv_conf_path), server_port_(server_port) {}

PosixResolver::~PosixResolver() { finish(NetStatus::error); }

NetStatus PosixResolver::resolve(std::string_view host_name, IpAddress& out) {
  protocol::DnsName asked;
  if (!protocol::encode_dns_name(host_name, asked)) return finish(NetStatus::error);
  if (!running_ || !(asked == name_)) {
    name_ = asked;
    return start();
  }
  const NetStatus replied = read_replies(out);
  if (replied != NetStatus::would_block) return replied;
  if (clock_.monotonic_ms() - sent_at_ms_ < retry_after_ms) return NetStatus::would_block;
  if (sent_ >= tries) return finish(NetStatus::error);
  return send_query(type_) ? NetStatus::would_block : finish(NetStatus::error);
}

NetStatus PosixResolver::start() {
  finish(NetStatus::error);
  running_ = open_socket();
  if (!running_) return NetStatus::error;
  type_ = DnsType::a;
  sent_ = 0;
  return send_query(type_) ? NetStatus::would_block : finish(NetStatus::error);
}

// A connected UDP socket: the kernel drops datagrams from anyone but the
// server, and the source port it picks is random (RFC 5452 §4.5).
bool PosixResolver::open_socket() {
  const Endpoint server{read_nameserver(resolv_conf_path_), server_port_};
  fd_ = ::socket(server.address.is_v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  sockaddr_storage address;
  const socklen_t length = to_sockaddr(server, address);
  return ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0;
}

// Each query gets a new random id, so a late reply to an earlier one is not
// taken for this one's.
bool PosixResolver::send_query(DnsType type) {
  std::array<std::uint8_t, protocol::dns_udp_message_bytes> query;
  std::array<std::uint8_t, 2> id{};
  if (!entropy_.fill(id)) return false;
  query_id_ = static_cast<std::uint16_t>(id[0] << 8 | id[1]);
  type_ = type;
  const std::size_t length = protocol::build_dns_query(query_id_, name_, type, query);
  if (length == 0 || ::send(fd_, query.data(), length, 0) != static_cast<ssize_t>(length)) return false;
  ++sent_;
  sent_at_ms_ = clock_.monotonic_ms();
  return true;
}

NetStatus PosixResolver::read_replies(IpAddress& out) {
  std::array<std::uint8_t, protocol::dns_udp_message_bytes> reply;
  for (int i = 0; i < max_datagrams_per_call; ++i) {
    const ssize_t length = ::recv(fd_, reply.data(), reply.size(), 0);
    if (length < 0 && (errno == EAGAIN || errno == EINTR)) return NetStatus::would_block;
    // ICMP port unreachable: nothing listens at the server's address.
    if (length < 0) return finish(NetStatus::error);
    const auto answer =
        protocol::parse_dns_response({reply.data(), static_cast<std::size_t>(length)}, query_id_, name_, type_);
    const NetStatus status = on_answer(answer, out);
    if (status != NetStatus::would_block) return status;
  }
  return NetStatus::would_block;
}

NetStatus PosixResolver::on_answer(const protocol::DnsAnswer& answer, IpAddress& out) {
  switch (answer.outcome) {
    case DnsOutcome::address:
      out = IpAddress{};
      out.is_v6 = type_ == DnsType::aaaa;
      std::copy_n(answer.address.begin(), out.is_v6 ? 16 : 4, out.bytes);
      return finish(NetStatus::ok);
    case DnsOutcome::no_address:
      if (type_ == DnsType::aaaa) return finish(NetStatus::error);
      sent_ = 0;  // the name exists without IPv4: ask for IPv6
      return send_query(DnsType::aaaa) ? NetStatus::would_block : finish(NetStatus::error);
    case DnsOutcome::not_ours:
    case DnsOutcome::malformed:
      return NetStatus::would_block;  // spoofed, late or broken: the real reply may still come
    case DnsOutcome::no_such_name:
    case DnsOutcome::server_failure:
    case DnsOutcome::truncated:  // over TCP only, which this stub does not speak
      return finish(NetStatus::error);
  }
  return finish(NetStatus::error);
}

NetStatus PosixResolver::finish(NetStatus status) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  running_ = false;
  return status;
}

}  // namespace pigeon::hal
