// The host's smarthost resolver: numeric addresses and "localhost" as written,
// every other name through pigeon's own DNS stub (hal/posix/posix_resolver.hpp),
// never through the C library (docs/routers.md).
#pragma once

#include "firmware/smarthost_client.hpp"
#include "hal/posix/posix_resolver.hpp"

namespace pigeon::host {

// The resolver, made once. The environment may name another resolv.conf
// (PIGEON_RESOLV_CONF) and, for tests, another server port (PIGEON_DNS_PORT).
// nullptr when PIGEON_DNS_PORT is not a port number.
HostResolver* host_resolver(hal::Clock& clock, hal::Entropy& entropy);

}  // namespace pigeon::host
