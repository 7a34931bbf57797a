#include "host_resolver.hpp"

#include <cerrno>
#include <cstdlib>

namespace pigeon::host {
namespace {

class LiteralThenDns final : public HostResolver {
 public:
  LiteralThenDns(hal::Clock& clock, hal::Entropy& entropy, const char* resolv_conf, std::uint16_t port)
      : dns_(clock, entropy, resolv_conf, port) {}

  hal::NetStatus resolve(std::string_view host_name, hal::IpAddress& out) override {
    if (literal_.resolve(host_name, out) == hal::NetStatus::ok) return hal::NetStatus::ok;
    return dns_.resolve(host_name, out);
  }

 private:
  LiteralResolver literal_;
  hal::PosixResolver dns_;
};

bool port_from_environment(std::uint16_t& port) {
  const char* text = std::getenv("PIGEON_DNS_PORT");
  if (text == nullptr) return true;
  char* end = nullptr;
  errno = 0;
  const unsigned long value = std::strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value == 0 || value > UINT16_MAX) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

HostResolver* host_resolver(hal::Clock& clock, hal::Entropy& entropy) {
  const char* resolv_conf = std::getenv("PIGEON_RESOLV_CONF");
  std::uint16_t port = hal::PosixResolver::dns_port;
  if (!port_from_environment(port)) return nullptr;
  static LiteralThenDns resolver(clock, entropy, resolv_conf != nullptr ? resolv_conf : "/etc/resolv.conf", port);
  return &resolver;
}

}  // namespace pigeon::host
