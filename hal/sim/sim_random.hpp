// The simulator's one source of chance: xoshiro256** (Blackman and Vigna,
// 2018), its state filled from the seed by SplitMix64 as its authors advise.
// Small, fast, and the same sequence on every machine and compiler, so a seed
// replays a run exactly. Not for cryptography: the relay's DRBG only takes
// its seed from here (SimEntropy), as a board's takes it from a noise source.
#pragma once

#include <cstdint>

namespace pigeon::hal {

class SimRandom {
 public:
  explicit SimRandom(std::uint64_t seed);

  std::uint64_t next();
  // Uniform in [0, bound); 0 when bound is 0.
  std::uint64_t below(std::uint64_t bound);
  // Uniform in [low, high].
  std::uint64_t between(std::uint64_t low, std::uint64_t high) { return low + below(high - low + 1); }
  // True with probability per_million / 1,000,000.
  bool chance(std::uint32_t per_million) { return below(1'000'000) < per_million; }
  // An independent generator for one part of the world (a host, a link), so
  // that what one part draws does not shift what another sees.
  SimRandom split() { return SimRandom(next()); }

 private:
  std::uint64_t state_[4];
};

}  // namespace pigeon::hal
