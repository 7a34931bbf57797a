// What every session of the relay shares: configuration, storage, TLS, clock,
// log and the user accounts. The relay owns them; sessions hold a reference.
#pragma once

#include "accounts.hpp"
#include "config.hpp"
#include "hal/clock.hpp"
#include "hal/log.hpp"
#include "hal/net.hpp"
#include "protocol/base64.hpp"
#include "spool.hpp"
#include "tls_session.hpp"

namespace pigeon {

struct RelayServices {
  const RelayConfig& config;
  hal::Net& net;
  hal::Clock& clock;
  hal::Log& log;
  Spool& spool;
  TlsServer& tls;
  Accounts& accounts;
  const protocol::Base64& base64;
};

}  // namespace pigeon
