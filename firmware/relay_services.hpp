// What every session of the relay shares: configuration, storage, TLS, clock,
// log, the user accounts and their password checks. The relay owns them;
// sessions hold a reference.
#pragma once

#include <cstdint>

#include "accounts.hpp"
#include "config.hpp"
#include "hal/clock.hpp"
#include "hal/log.hpp"
#include "hal/net.hpp"
#include "login_service.hpp"
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
  LoginService& logins;
};

// The wall clock as the spool keeps it: seconds since the Unix epoch in 32
// unsigned bits (good until 2106), 0 while the time is not known.
inline std::uint32_t spool_time_s(hal::Clock& clock) {
  const std::int64_t now = clock.unix_time_s();
  if (now <= 0) return 0;
  return now > std::int64_t{UINT32_MAX} ? UINT32_MAX : static_cast<std::uint32_t>(now);
}

}  // namespace pigeon
