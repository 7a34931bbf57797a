// Host names to addresses on Linux without the C library's resolver: a DNS stub
// over UDP (protocol/dns_message.hpp) asking the first nameserver of
// /etc/resolv.conf. A static binary must not depend on NSS (docs/routers.md),
// and a lookup must not stop the relay: resolve() starts one and answers
// would_block until the reply, or the last retry's timeout, has come; the relay
// asks again on every loop round (at least once a second).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "hal/clock.hpp"
#include "hal/entropy.hpp"
#include "hal/net.hpp"
#include "protocol/dns_message.hpp"

namespace pigeon::hal {

// The first "nameserver" of resolv.conf(5) text; nullopt when there is none.
std::optional<IpAddress> first_nameserver(std::string_view resolv_conf);

class PosixResolver {
 public:
  static constexpr std::uint16_t dns_port = 53;
  // Each query is sent up to this many times, this long apart, then given up.
  static constexpr std::uint32_t tries = 3;
  static constexpr std::uint64_t retry_after_ms = 2000;

  // `resolv_conf_path` is read at the start of every lookup, so a router that
  // rewrites it (DHCP, PPP) is followed. `server_port` is for tests.
  PosixResolver(Clock& clock, Entropy& entropy, const char* resolv_conf_path = "/etc/resolv.conf",
                std::uint16_t server_port = dns_port);
  ~PosixResolver();
  PosixResolver(const PosixResolver&) = delete;
  PosixResolver& operator=(const PosixResolver&) = delete;

  // ok with `out` filled (an IPv4 address, else IPv6), would_block while the
  // lookup runs, error when the name has no address or nobody answered. A
  // different name abandons the lookup under way.
  NetStatus resolve(std::string_view host_name, IpAddress& out);

 private:
  NetStatus start();
  bool open_socket();
  bool send_query(protocol::DnsType type);
  NetStatus read_replies(IpAddress& out);
  NetStatus on_answer(const protocol::DnsAnswer& answer, IpAddress& out);
  NetStatus finish(NetStatus status);

  Clock& clock_;
  Entropy& entropy_;
  const char* resolv_conf_path_;
  std::uint16_t server_port_;

  int fd_ = -1;
  bool running_ = false;
  protocol::DnsName name_;
  protocol::DnsType type_ = protocol::DnsType::a;
  std::uint16_t query_id_ = 0;
  std::uint32_t sent_ = 0;  // times the current query went out
  std::uint64_t sent_at_ms_ = 0;
};

}  // namespace pigeon::hal
