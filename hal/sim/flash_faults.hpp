// The fault plan shared by the fault-injecting flash backends (RAM for tests,
// the host's image file): which operation a power cut hits, and how much of a
// torn program or erase reaches the medium. Each backend applies the plan to
// its own storage; keeping the choices here makes a cut point with a given
// seed tear the same way on both.
#pragma once

#include <cstdint>

namespace pigeon::hal {

// The bytes a torn program writes: the first `bytes_written` of the data, and
// the first `units_touched` program units then count as programmed (a chip
// with ECC cannot program a half-written unit again).
struct TornProgram {
  std::uint32_t bytes_written;
  std::uint32_t units_touched;
};

// The stretch [from, to) of a sector that a torn erase does erase.
struct TornErase {
  std::uint32_t from;
  std::uint32_t to;

  // The program units wholly inside the stretch, [first_whole_unit,
  // end_whole_unit): only those are programmable again.
  constexpr std::uint32_t first_whole_unit(std::uint32_t unit_bytes) const { return (from + unit_bytes - 1) / unit_bytes; }
  constexpr std::uint32_t end_whole_unit(std::uint32_t unit_bytes) const { return to / unit_bytes; }
};

class FlashFaults {
 public:
  // After `operations` more operations complete, the next one is cut; torn
  // when `tear` is set, the tear chosen by `seed` (deterministic, so a failing
  // cut point can be replayed).
  void cut_after(std::uint64_t operations, bool tear, std::uint32_t seed);
  void disarm() { armed_ = false; }
  // Asked before each program or erase: true when this one is cut. The cut
  // disarms the plan.
  bool cut_now();
  // Called after each program or erase that completed.
  void count_operation() { ++operations_; }
  std::uint64_t operations() const { return operations_; }
  bool tear() const { return tear_; }

  // Units before a random one are written whole, that one only in part (at
  // least its first byte), the rest not at all.
  TornProgram torn_program(std::uint32_t data_bytes, std::uint32_t unit_bytes);
  // A random stretch of the sector is erased, the rest keeps its contents.
  TornErase torn_erase(std::uint32_t sector_bytes);

 private:
  std::uint32_t random_below(std::uint32_t bound);

  std::uint64_t operations_ = 0;
  std::uint64_t cut_at_ = 0;
  bool armed_ = false;
  bool tear_ = false;
  std::uint32_t random_state_ = 1;
};

}  // namespace pigeon::hal
