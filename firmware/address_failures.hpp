// The per-address failure budget of logins, shared by SMTP and POP3
// (docs/security.md): an address (IPv4, or an IPv6 /64) has a few failures
// free; after them each check waits, the wait doubling per further failure up
// to a cap, and the checks of one address start one at a time so that many
// connections do not guess faster than one. A bounded table: when it is full
// the address seen longest ago makes room.
#pragma once

#include <array>
#include <cstdint>

#include "config.hpp"
#include "ip_address.hpp"

namespace pigeon {

class AddressFailures {
 public:
  explicit AddressFailures(const LoginLimits& limits) : limits_(limits) {}

  // Counts an attempt from `address` as a failure until refund() and returns
  // when its check may start (now_ms, or later when the budget is spent).
  std::uint64_t charge(const AddressKey& address, std::uint64_t now_ms);
  // The attempt succeeded: it was no failure.
  void refund(const AddressKey& address);

  // For tests: the failures counted against `address`.
  std::uint32_t failures(const AddressKey& address) const;

 private:
  struct Entry {
    AddressKey address;
    std::uint32_t failures = 0;
    std::uint64_t last_start_ms = 0;    // when its latest check could start
    std::uint64_t last_attempt_ms = 0;  // for forgetting and for replacement
    bool used = false;
  };

  Entry& entry_for(const AddressKey& address, std::uint64_t now_ms);
  std::size_t index_of(const AddressKey& address) const;
  std::uint64_t delay_ms(std::uint32_t failures_before) const;

  const LoginLimits& limits_;
  std::array<Entry, PIGEON_LOGIN_ADDRESSES> entries_{};
};

}  // namespace pigeon
