#include "provisioning.hpp"

#include <algorithm>
#include <array>

namespace pigeon {
namespace {

bool load_ca_certificates(const SmarthostConfig& smarthost, const char* ca_pem, SmarthostTlsClient& tls) {
  if (ca_pem != nullptr) return *ca_pem != '\0' && tls.load_ca_pem(ca_pem);
  if (smarthost.ca_file.empty()) return false;
  // Mbed TLS opens the file by a NUL-terminated name.
  std::array<char, decltype(smarthost.ca_file)::capacity() + 1> path{};
  std::ranges::copy(smarthost.ca_file.view(), path.begin());
  return tls.load_ca_file(path.data());
}

}  // namespace

bool add_default_user(CryptoRandom& random, std::string_view password, RelayConfig& config,
                      std::uint32_t hash_iterations) {
  std::array<char, max_password_hash_bytes> hash{};
  const auto length = make_password_hash(random, password, hash, hash_iterations);
  return length && config.add_user(default_user_name, {hash.data(), *length});
}

std::string_view set_up_smarthost_tls(const SmarthostConfig& smarthost, const char* ca_pem,
                                      SmarthostTlsClient& tls) {
  if (smarthost.host.empty() || smarthost.tls == SmarthostTls::none) return {};
  if (!load_ca_certificates(smarthost, ca_pem, tls)) {
    return ca_pem != nullptr ? "the smarthost's CA certificates are missing or do not load"
                             : "smarthost_ca_file must name a PEM file of CA certificates";
  }
  if (!tls.set_peer(smarthost.host.view(), smarthost.pinned ? &smarthost.pin_sha256 : nullptr)) {
    return "smarthost_host is too long";
  }
  return {};
}

}  // namespace pigeon
