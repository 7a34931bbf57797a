#include "login_service.hpp"

#include <algorithm>

#include "protocol/assert.hpp"

namespace pigeon {
namespace {

constexpr std::uint64_t ms_per_s = 1000;
constexpr std::size_t stand_in_salt_bytes = 16;

}  // namespace

bool LoginService::start(CryptoRandom& random) {
  stand_in_.iterations = default_pbkdf2_iterations;
  if (config_.user_count > 0) {
    if (const auto first = parse_password_hash(config_.users[0].password_hash.view())) {
      stand_in_.iterations = first->iterations;
    }
  }
  stand_in_.salt_bytes = stand_in_salt_bytes;
  return random.fill({stand_in_.salt.data(), stand_in_.salt_bytes}) && random.fill(stand_in_.expected) &&
         cache_.start(random);
}

// A user whose configured hash does not parse can never log in; it costs
// what an unknown name costs.
PasswordHash LoginService::hash_for(std::optional<UserIndex> user) const {
  if (!user) return stand_in_;
  return parse_password_hash(accounts_.password_hash(*user)).value_or(stand_in_);
}

LoginTicket LoginService::begin(LoginWaiter& waiter, const hal::IpAddress& peer, std::string_view name,
                                std::string_view password, std::uint64_t now_ms) {
  const auto free = std::find_if(requests_.begin(), requests_.end(),
                                 [](const Request& request) { return request.waiter == nullptr; });
  PIGEON_ASSERT(free != requests_.end());  // one slot per session, one check per session
  Request& request = *free;
  request.waiter = &waiter;
  request.user = accounts_.find_user(name);
  request.address = address_key(peer);
  request.sequence = next_sequence_++;
  latest_ms_ = std::max(latest_ms_, now_ms);
  // An address's checks run one after another, each charged when it may start,
  // so that the budget sees the verdicts of that address's earlier checks.
  request.scheduled = false;
  if (earliest_waiting(request.address) == &request) schedule(request, now_ms);
  request.tag = cache_.tag(name, password);
  request.cached = request.user && cache_.contains(request.tag, now_ms, std::uint64_t{config_.login.cache_s} * ms_per_s);
  const PasswordHash hash = hash_for(request.user);
  request.expected = hash.expected;
  // Keying the PRF and the first iteration happen now, so the password need not wait with the request.
  if (!request.cached) request.derivation.start(password, hash.salt_view(), hash.iterations);
  return static_cast<LoginTicket>(free - requests_.begin());
}

void LoginService::cancel(LoginTicket ticket) {
  PIGEON_ASSERT(ticket < requests_.size() && requests_[ticket].waiter != nullptr);
  Request& request = requests_[ticket];
  // A check that never started is charged all the same: hanging up does not
  // take an attempt back.
  if (!request.scheduled) (void)failures_.charge(request.address, latest_ms_);
  const AddressKey address = request.address;
  release(request);
  schedule_next(address, latest_ms_);
}

bool LoginService::step(std::uint64_t now_ms) {
  latest_ms_ = std::max(latest_ms_, now_ms);
  std::uint32_t budget = PIGEON_PBKDF2_ITERATIONS_PER_ROUND;
  bool progressed = false;
  while (Request* request = next_due(now_ms)) {
    if (!request->cached) {
      budget -= request->derivation.step(budget);
      if (!request->derivation.done()) return true;  // this round's slice is used up
    }
    finish(*request, now_ms);
    progressed = true;
  }
  return progressed;
}

// The earliest-arrived check whose start time has come.
LoginService::Request* LoginService::next_due(std::uint64_t now_ms) {
  Request* due = nullptr;
  for (Request& request : requests_) {
    if (request.waiter == nullptr || !request.scheduled || request.start_ms > now_ms) continue;
    if (due == nullptr || request.sequence < due->sequence) due = &request;
  }
  return due;
}

std::uint64_t LoginService::deadline_ms() const {
  std::uint64_t earliest = UINT64_MAX;
  for (const Request& request : requests_) {
    if (request.waiter != nullptr && request.scheduled) earliest = std::min(earliest, request.start_ms);
  }
  return earliest;
}

void LoginService::finish(Request& request, std::uint64_t now_ms) {
  // Compared for every attempt, the stand-in's too, so that both cost the same.
  const bool matched = request.cached || digests_equal(request.derivation.result(), request.expected);
  const std::optional<UserIndex> user = matched ? request.user : std::nullopt;
  if (user) {
    failures_.refund(request.address);
    if (!request.cached && config_.login.cache_s > 0) cache_.insert(request.tag, now_ms);
  }
  LoginWaiter& waiter = *request.waiter;
  const AddressKey address = request.address;
  release(request);
  schedule_next(address, now_ms);
  waiter.login_checked(user);
}

// The check of `address` that arrived first among those still waiting.
LoginService::Request* LoginService::earliest_waiting(const AddressKey& address) {
  Request* earliest = nullptr;
  for (Request& request : requests_) {
    if (request.waiter == nullptr || request.address != address) continue;
    if (earliest == nullptr || request.sequence < earliest->sequence) earliest = &request;
  }
  return earliest;
}

void LoginService::schedule(Request& request, std::uint64_t now_ms) {
  PIGEON_ASSERT(!request.scheduled);
  request.start_ms = failures_.charge(request.address, now_ms);
  request.scheduled = true;
}

// The address's previous check is over: its next one is charged and may start.
void LoginService::schedule_next(const AddressKey& address, std::uint64_t now_ms) {
  Request* next = earliest_waiting(address);
  if (next != nullptr && !next->scheduled) schedule(*next, now_ms);
}

void LoginService::release(Request& request) {
  request.derivation.wipe();
  request.tag.fill(0);
  request.waiter = nullptr;
}

}  // namespace pigeon
