#include "mail_routing.hpp"

namespace pigeon {

std::optional<std::string_view> mailbox_for_address(const RelayServices& services, std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  if (!services.config.is_local_domain(address.substr(at + 1))) {
    if (services.config.smarthost.host.empty()) return std::nullopt;
    return std::string_view{};
  }
  const auto user = services.accounts.find_mailbox(address.substr(0, at));
  if (!user) return std::nullopt;
  return services.accounts.name(*user);
}

}  // namespace pigeon
