// Conversions between the net HAL's endpoints and the sockets API's addresses,
// shared by the TCP streams (posix_net) and the DNS stub (posix_resolver).
#pragma once

#include <sys/socket.h>

#include "hal/net.hpp"

namespace pigeon::hal {

// Fills a sockaddr for `endpoint`; returns its length.
socklen_t to_sockaddr(const Endpoint& endpoint, sockaddr_storage& out);
// A Unix-domain peer is the all-zero endpoint.
Endpoint from_sockaddr(const sockaddr_storage& address);

}  // namespace pigeon::hal
