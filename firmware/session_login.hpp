// One session's side of its logins, the same for SMTP and POP3
// (docs/security.md): the check it waits for, when the command arrived (a
// failure is answered auth_failure_delay_ms after that, however long the
// derivation took), and how many attempts failed on this connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "fixed_string.hpp"
#include "hal/log.hpp"
#include "login_service.hpp"

namespace pigeon {

class SessionLogin {
 public:
  // A new connection: no failures yet.
  void reset();
  // Starts a check of `name` and `password`; acting for another identity
  // (`authzid` neither empty nor `name`) is not supported and fails like a
  // wrong password, after the same work.
  void begin(LoginService& logins, LoginWaiter& waiter, const hal::IpAddress& peer, std::string_view authzid,
             std::string_view name, std::string_view password, std::uint64_t now_ms);
  // The check's verdict for this session: the user, or nullopt (counted as a
  // failure); logged with `log_name` ("smtp", "pop3") and the peer either way.
  std::optional<UserIndex> settle(std::optional<UserIndex> checked, hal::Log& log, std::string_view log_name,
                                  const hal::Endpoint& peer);
  // When a failure may be answered.
  std::uint64_t failure_reply_ms(std::uint32_t delay_ms, std::uint64_t now_ms) const;
  // The connection has used up its failures (0: no limit).
  bool exhausted(std::uint32_t failures_per_connection) const;
  // The session ends: a pending check is abandoned.
  void cancel(LoginService& logins);

 private:
  std::optional<LoginTicket> ticket_;
  FixedString<max_user_name_bytes> name_;  // as given, cut to a configurable name's length, for the log
  std::uint64_t arrived_ms_ = 0;
  std::uint32_t failures_ = 0;
  bool own_identity_ = true;
};

}  // namespace pigeon
