// Start-up steps every board shares: the default user and TLS to the smarthost.
// A board decides where things are kept (a state folder, a board record,
// provisioned text); these decide what is done with them.
#pragma once

#include <cstdint>
#include <string_view>

#include "config.hpp"
#include "crypto_random.hpp"
#include "password_hash.hpp"
#include "smarthost_tls.hpp"

namespace pigeon {

// The user a board makes when its configuration names none; the password is the
// board's to keep and to show to whoever sets it up.
inline constexpr std::string_view default_user_name = "user";

// Adds the default user with `password`, hashed with `hash_iterations` (fewer on
// a slow board, or every login would cost seconds). False when hashing fails or
// the user table is full.
bool add_default_user(CryptoRandom& random, std::string_view password, RelayConfig& config,
                      std::uint32_t hash_iterations = default_pbkdf2_iterations);

// TLS to the smarthost is verified or not used at all (docs/architecture.md §7): the
// relay refuses to start without CA certificates rather than relay unverified.
// `ca_pem` is the board's NUL-terminated PEM text of them; nullptr reads the
// configured smarthost_ca_file instead (boards with files). Empty when TLS is
// ready or not used; otherwise what is wrong, for the start-up error.
std::string_view set_up_smarthost_tls(const SmarthostConfig& smarthost, const char* ca_pem,
                                      SmarthostTlsClient& tls);

}  // namespace pigeon
