#include "session_login.hpp"

#include <algorithm>
#include <array>

#include "ip_address.hpp"
#include "protocol/assert.hpp"

namespace pigeon {

void SessionLogin::reset() {
  PIGEON_ASSERT(!ticket_);
  failures_ = 0;
}

void SessionLogin::begin(LoginService& logins, LoginWaiter& waiter, const hal::IpAddress& peer,
                         std::string_view authzid, std::string_view name, std::string_view password,
                         std::uint64_t now_ms) {
  PIGEON_ASSERT(!ticket_);
  own_identity_ = authzid.empty() || authzid == name;
  name_.assign(name.substr(0, name_.capacity()));
  arrived_ms_ = now_ms;
  ticket_ = logins.begin(waiter, peer, name, password, now_ms);
}

std::optional<UserIndex> SessionLogin::settle(std::optional<UserIndex> checked, hal::Log& log,
                                              std::string_view log_name, const hal::Endpoint& peer) {
  ticket_.reset();
  const bool accepted = checked && own_identity_;
  if (!accepted) ++failures_;
  // The name is the client's text: the log backends escape its control bytes.
  std::array<char, peer_text_bytes> peer_storage{};
  const std::string_view peer_text = describe_peer(peer, peer_storage);
  log.write(accepted ? hal::LogLevel::info : hal::LogLevel::warning, "%.*s: %s %.*s from %.*s",
            static_cast<int>(log_name.size()), log_name.data(), accepted ? "login of" : "failed login of",
            static_cast<int>(name_.view().size()), name_.view().data(), static_cast<int>(peer_text.size()),
            peer_text.data());
  return accepted ? checked : std::nullopt;
}

std::uint64_t SessionLogin::failure_reply_ms(std::uint32_t delay_ms, std::uint64_t now_ms) const {
  return std::max(now_ms, arrived_ms_ + delay_ms);
}

bool SessionLogin::exhausted(std::uint32_t failures_per_connection) const {
  return failures_per_connection != 0 && failures_ >= failures_per_connection;
}

void SessionLogin::cancel(LoginService& logins) {
  if (ticket_) logins.cancel(*ticket_);
  ticket_.reset();
}

}  // namespace pigeon
