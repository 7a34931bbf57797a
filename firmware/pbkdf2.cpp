#include "pbkdf2.hpp"

#include <algorithm>
#include <array>

#include "protocol/assert.hpp"

namespace pigeon {

void Pbkdf2Sha256::start(std::string_view password, std::span<const std::uint8_t> salt,
                         std::uint32_t iterations) {
  PIGEON_ASSERT(iterations >= 1);
  prf_.set_key({reinterpret_cast<const std::uint8_t*>(password.data()), password.size()});
  // U_1 = PRF(P, S || INT(1)): the first and only block of a 32-byte key.
  constexpr std::array<std::uint8_t, 4> block_index{0, 0, 0, 1};
  prf_.mac({salt, block_index}, block_);
  sum_ = block_;
  iterations_left_ = iterations - 1;
}

std::uint32_t Pbkdf2Sha256::step(std::uint32_t max_iterations) {
  const std::uint32_t count = std::min(max_iterations, iterations_left_);
  for (std::uint32_t i = 0; i < count; ++i) {
    prf_.mac({block_}, block_);
    for (std::size_t byte = 0; byte < sum_.size(); ++byte) sum_[byte] ^= block_[byte];
  }
  iterations_left_ -= count;
  return count;
}

void Pbkdf2Sha256::wipe() {
  prf_.wipe();
  block_.fill(0);
  sum_.fill(0);
  iterations_left_ = 0;
}

Sha256Digest pbkdf2_sha256(std::string_view password, std::span<const std::uint8_t> salt,
                           std::uint32_t iterations) {
  Pbkdf2Sha256 derivation;
  derivation.start(password, salt, iterations);
  derivation.step(iterations);
  const Sha256Digest result = derivation.result();
  derivation.wipe();
  return result;
}

}  // namespace pigeon
