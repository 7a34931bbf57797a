// PIGEON_ASSERT: an invariant that is checked in every build, the shipped ones
// included (NDEBUG does not remove it), in the manner of Pigweed's PW_CHECK and
// littlefs's LFS_ASSERT. A failed check means the relay's own state is wrong;
// going on could lose or corrupt accepted mail, so the board's handler stops it:
// the host prints the condition and aborts, a board prints it on its console and
// resets (docs/architecture.md §11).
//
// This is the one header every layer may include: protocol/ is the bottom of the
// tree, and the handler is linked in by the board (pigeon_assert_handler).
// Bad input from the network is never a reason to assert: engines answer it.
#pragma once

namespace pigeon {

// Provided once per board; never returns.
[[noreturn]] void assert_failed(const char* condition, const char* file, int line) noexcept;

}  // namespace pigeon

// A board short of flash builds with PIGEON_ASSERT_CONDITIONS 0 (its handler's
// target says so): a failed check then names its file and line but not the
// text of its condition, which is the same to whoever has that build's source.
#ifndef PIGEON_ASSERT_CONDITIONS
#define PIGEON_ASSERT_CONDITIONS 1
#endif

#define PIGEON_ASSERT(condition)                                                                \
  do {                                                                                          \
    if (!(condition)) [[unlikely]] {                                                            \
      ::pigeon::assert_failed(PIGEON_ASSERT_CONDITIONS ? #condition : "", __FILE__, __LINE__); \
    }                                                                                           \
  } while (false)

// Marks a branch that the surrounding checks make impossible.
#define PIGEON_UNREACHABLE() ::pigeon::assert_failed("unreachable", __FILE__, __LINE__)
