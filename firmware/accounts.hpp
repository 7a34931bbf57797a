// The local users: their names and configured PBKDF2 hashes (checked by
// login_service.hpp), and the lock that lets one POP3 session at a time hold a
// maildrop (RFC 1939 §8).
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "config.hpp"
#include "spool.hpp"

namespace pigeon {

using UserIndex = std::size_t;

class Accounts final : public MailboxDirectory {
 public:
  explicit Accounts(const RelayConfig& config) : config_(config) {}

  // Mailboxes are numbered by the user's position in the configuration.
  std::optional<std::uint8_t> mailbox_number(std::string_view name) const override;

  // The user whose name is exactly `name` (a login name is case-sensitive).
  std::optional<UserIndex> find_user(std::string_view name) const;
  // The user a local part delivers to: a user name (case-insensitive), or
  // "postmaster" (RFC 5321 §4.5.1).
  std::optional<UserIndex> find_mailbox(std::string_view local_part) const;
  // The configured postmaster user, else the first user; nullopt without users
  // or when the configured name is no user.
  std::optional<UserIndex> postmaster() const;
  std::string_view name(UserIndex user) const { return config_.users[user].name.view(); }
  std::string_view password_hash(UserIndex user) const { return config_.users[user].password_hash.view(); }

  bool lock_maildrop(UserIndex user);
  void unlock_maildrop(UserIndex user);

 private:
  const RelayConfig& config_;
  std::array<bool, PIGEON_MAX_USERS> maildrop_locked_{};
};

}  // namespace pigeon
