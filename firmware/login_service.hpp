// Password checks for every session (docs/security.md), run so that a login
// neither stalls the loop nor tells a guesser more than "no":
// - PBKDF2 runs in slices from Relay::poll (PIGEON_PBKDF2_ITERATIONS_PER_ROUND
//   per round), one check at a time in arrival order, so other sessions are
//   served between slices;
// - an unknown user name costs the same derivation (a stand-in hash with a
//   salt drawn at boot and the first user's iteration count) and gets the same
//   verdict as a wrong password;
// - a credential verified within auth_cache_s skips the derivation
//   (credential_cache.hpp);
// - each attempt is charged to its address's failure budget before it runs
//   (address_failures.hpp), so a guesser's checks wait even when it hangs up;
//   an address's checks run one after another and each is charged when the
//   one before it is over, so that concurrent logins that succeed (a fleet
//   behind one address) are never delayed as if they had failed.
// A session has at most one check at a time (its engine waits for the
// verdict), so there is a request slot for every session and none is refused.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "accounts.hpp"
#include "address_failures.hpp"
#include "credential_cache.hpp"
#include "password_hash.hpp"
#include "pbkdf2.hpp"

namespace pigeon {

// What a session learns when its check is over.
class LoginWaiter {
 public:
  // The user when name and password matched, else nullopt (either was wrong).
  virtual void login_checked(std::optional<UserIndex> user) = 0;

 protected:
  ~LoginWaiter() = default;
};

using LoginTicket = std::size_t;

class LoginService {
 public:
  LoginService(const RelayConfig& config, const Accounts& accounts)
      : config_(config), accounts_(accounts), failures_(config.login) {}

  // Draws the cache's key and the stand-in's salt. False without randomness.
  bool start(CryptoRandom& random);

  // Takes a check; its verdict reaches `waiter` from a later step(). Neither
  // name nor password is kept: only the derivation's keyed state and the tag.
  LoginTicket begin(LoginWaiter& waiter, const hal::IpAddress& peer, std::string_view name,
                    std::string_view password, std::uint64_t now_ms);
  // The session ended while its check was pending; the attempt stays charged.
  void cancel(LoginTicket ticket);

  // Runs due checks for at most PIGEON_PBKDF2_ITERATIONS_PER_ROUND iterations
  // and hands out verdicts. True when anything progressed.
  bool step(std::uint64_t now_ms);
  // When step() has work next: now while a check is due, else the end of the
  // earliest address delay; UINT64_MAX without checks.
  std::uint64_t deadline_ms() const;

 private:
  struct Request {
    LoginWaiter* waiter = nullptr;  // nullptr: the slot is free
    std::optional<UserIndex> user;  // the named user; nullopt: checked against the stand-in
    AddressKey address;
    bool scheduled = false;         // charged to its address, which has no earlier check waiting
    std::uint64_t start_ms = 0;     // once scheduled: the address's budget may hold the check until then
    std::uint64_t sequence = 0;     // arrival order
    Sha256Digest tag{};             // the credential cache's key for name and password
    Sha256Digest expected{};
    bool cached = false;            // verified recently: no derivation
    Pbkdf2Sha256 derivation;
  };

  PasswordHash hash_for(std::optional<UserIndex> user) const;
  Request* next_due(std::uint64_t now_ms);
  Request* earliest_waiting(const AddressKey& address);
  void schedule(Request& request, std::uint64_t now_ms);
  void schedule_next(const AddressKey& address, std::uint64_t now_ms);
  void finish(Request& request, std::uint64_t now_ms);
  void release(Request& request);

  const RelayConfig& config_;
  const Accounts& accounts_;
  AddressFailures failures_;
  CredentialCache cache_;
  PasswordHash stand_in_;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t latest_ms_ = 0;  // the latest time begin() or step() was told: cancel() has no clock
  std::array<Request, PIGEON_SMTP_SESSIONS + PIGEON_POP3_SESSIONS + PIGEON_IMAP_SESSIONS> requests_{};
};

}  // namespace pigeon
