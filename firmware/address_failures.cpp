#include "address_failures.hpp"

#include <algorithm>

namespace pigeon {
namespace {

constexpr std::uint64_t ms_per_s = 1000;

}  // namespace

std::uint64_t AddressFailures::charge(const AddressKey& address, std::uint64_t now_ms) {
  Entry& entry = entry_for(address, now_ms);
  if (now_ms - entry.last_attempt_ms > limits_.address_forget_s * ms_per_s) entry.failures = 0;
  const std::uint32_t before = entry.failures;
  entry.failures = before == UINT32_MAX ? before : before + 1;
  entry.last_attempt_ms = now_ms;
  // Within the budget a check starts at once; past it, only a delay after the
  // address's previous check could start, so concurrent attempts queue up.
  const std::uint64_t start_ms =
      before < limits_.address_free_failures ? now_ms : std::max(now_ms, entry.last_start_ms + delay_ms(before));
  entry.last_start_ms = start_ms;
  return start_ms;
}

void AddressFailures::refund(const AddressKey& address) {
  const std::size_t index = index_of(address);
  if (index < entries_.size() && entries_[index].failures > 0) --entries_[index].failures;
}

std::uint32_t AddressFailures::failures(const AddressKey& address) const {
  const std::size_t index = index_of(address);
  return index < entries_.size() ? entries_[index].failures : 0;
}

// The address's position in the table, or the table's size when it has none.
std::size_t AddressFailures::index_of(const AddressKey& address) const {
  const auto found = std::find_if(entries_.begin(), entries_.end(),
                                  [&](const Entry& entry) { return entry.used && entry.address == address; });
  return static_cast<std::size_t>(found - entries_.begin());
}

// The address's entry, or a new one in place of the entry whose last attempt is oldest.
AddressFailures::Entry& AddressFailures::entry_for(const AddressKey& address, std::uint64_t now_ms) {
  if (const std::size_t index = index_of(address); index < entries_.size()) return entries_[index];
  Entry& oldest = *std::min_element(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    return a.used != b.used ? !a.used : a.last_attempt_ms < b.last_attempt_ms;
  });
  oldest = Entry{address, 0, 0, now_ms, true};
  return oldest;
}

// The first failure past the budget waits address_delay_ms; each further one twice the last.
std::uint64_t AddressFailures::delay_ms(std::uint32_t failures_before) const {
  const std::uint32_t doublings = failures_before - limits_.address_free_failures;
  const std::uint64_t cap = limits_.address_max_delay_ms;
  if (doublings >= 32) return cap;
  return std::min(cap, std::uint64_t{limits_.address_delay_ms} << doublings);
}

}  // namespace pigeon
