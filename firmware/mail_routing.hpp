// Where mail that pigeon itself writes (delivery reports, alerts) goes: the
// same rule as for mail it accepts by SMTP (docs/architecture.md §7).
#pragma once

#include <optional>
#include <string_view>

#include "relay_services.hpp"

namespace pigeon {

// The local user's mailbox name for an address in a local domain; "" (relay
// onward) for another domain when a smarthost is configured; nullopt when
// nobody can take it.
std::optional<std::string_view> mailbox_for_address(const RelayServices& services, std::string_view address);

}  // namespace pigeon
