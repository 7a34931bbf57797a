#include "sim_random.hpp"

namespace pigeon::hal {
namespace {

std::uint64_t rotate_left(std::uint64_t value, int bits) { return (value << bits) | (value >> (64 - bits)); }

// SplitMix64: one step of a Weyl sequence, then a mix of its bits.
std::uint64_t splitmix64(std::uint64_t& sequence) {
  sequence += 0x9e3779b97f4a7c15u;
  std::uint64_t mixed = sequence;
  mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9u;
  mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebu;
  return mixed ^ (mixed >> 31);
}

}  // namespace

SimRandom::SimRandom(std::uint64_t seed) {
  for (std::uint64_t& word : state_) word = splitmix64(seed);
}

std::uint64_t SimRandom::next() {
  const std::uint64_t result = rotate_left(state_[1] * 5, 7) * 9;
  const std::uint64_t shifted = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= shifted;
  state_[3] = rotate_left(state_[3], 45);
  return result;
}

// The remainder's bias (below 2^-32 for the bounds a simulation uses) does
// not matter here, and it needs no 128-bit product, which 32-bit targets lack.
std::uint64_t SimRandom::below(std::uint64_t bound) { return bound == 0 ? 0 : next() % bound; }

}  // namespace pigeon::hal
