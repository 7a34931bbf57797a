#include "accounts.hpp"

#include "text.hpp"

namespace pigeon {

std::optional<UserIndex> Accounts::find_user(std::string_view name) const {
  for (UserIndex user = 0; user < config_.user_count; ++user) {
    if (config_.users[user].name.view() == name) return user;
  }
  return std::nullopt;
}

std::optional<UserIndex> Accounts::find_mailbox(std::string_view local_part) const {
  for (UserIndex user = 0; user < config_.user_count; ++user) {
    if (text::iequals(config_.users[user].name.view(), local_part)) return user;
  }
  if (text::iequals(local_part, "postmaster")) return postmaster();
  return std::nullopt;
}

std::optional<UserIndex> Accounts::postmaster() const {
  if (config_.postmaster.empty()) return config_.user_count > 0 ? std::optional<UserIndex>(0) : std::nullopt;
  for (UserIndex user = 0; user < config_.user_count; ++user) {
    if (config_.users[user].name.view() == config_.postmaster.view()) return user;
  }
  return std::nullopt;
}

std::optional<std::uint8_t> Accounts::mailbox_number(std::string_view name) const {
  const std::optional<UserIndex> user = find_user(name);
  return user ? std::optional<std::uint8_t>(static_cast<std::uint8_t>(*user)) : std::nullopt;
}

bool Accounts::lock_maildrop(UserIndex user) {
  if (maildrop_locked_[user]) return false;
  maildrop_locked_[user] = true;
  return true;
}

void Accounts::unlock_maildrop(UserIndex user) { maildrop_locked_[user] = false; }

}  // namespace pigeon
