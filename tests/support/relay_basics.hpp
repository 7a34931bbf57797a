// What an in-process relay of the tests is built from besides its network and
// flash: the host's clock, entropy and log, a configuration with one user, the
// random generator and the TLS server (tests/lwip/relay_over_lwip_test.cpp,
// tests/unit/session_sync_test.cpp). Tests may allocate.
#pragma once

#include <array>
#include <string_view>

#include "firmware/config.hpp"
#include "firmware/crypto_random.hpp"
#include "firmware/password_hash.hpp"
#include "firmware/tls_session.hpp"
#include "hal/posix/posix_clock.hpp"
#include "hal/posix/posix_entropy.hpp"
#include "hal/posix/stderr_log.hpp"

namespace pigeon::test {

struct RelayBasics {
  // The user "user" with `password`, hashed with few iterations: tests log in often.
  void add_user(std::string_view password) {
    std::array<char, max_password_hash_bytes> hash{};
    const auto length = make_password_hash(random, password, hash, 1000);
    config.add_user("user", {hash.data(), length.value_or(0)});
  }

  hal::PosixClock clock;
  hal::PosixEntropy entropy;
  RelayConfig config;
  hal::StderrLog log{clock, hal::LogLevel::warning};
  CryptoRandom random{entropy};
  TlsServer tls{random};
};

}  // namespace pigeon::test
