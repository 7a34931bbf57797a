#include "socket_address.hpp"

#include <netinet/in.h>

#include <cstring>

namespace pigeon::hal {

socklen_t to_sockaddr(const Endpoint& endpoint, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (endpoint.address.is_v6) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(out);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(endpoint.port);
    std::memcpy(&v6.sin6_addr, endpoint.address.bytes, 16);
    return sizeof v6;
  }
  auto& v4 = reinterpret_cast<sockaddr_in&>(out);
  v4.sin_family = AF_INET;
  v4.sin_port = htons(endpoint.port);
  std::memcpy(&v4.sin_addr, endpoint.address.bytes, 4);
  return sizeof v4;
}

Endpoint from_sockaddr(const sockaddr_storage& address) {
  Endpoint endpoint;
  if (address.ss_family == AF_UNIX) {  // a local socket's peer has no address
    endpoint.local = true;
    return endpoint;
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    endpoint.address.is_v6 = true;
    std::memcpy(endpoint.address.bytes, &v6.sin6_addr, 16);
    endpoint.port = ntohs(v6.sin6_port);
  } else {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    std::memcpy(endpoint.address.bytes, &v4.sin_addr, 4);
    endpoint.port = ntohs(v4.sin_port);
  }
  return endpoint;
}

}  // namespace pigeon::hal
