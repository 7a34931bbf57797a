// The host's PIGEON_ASSERT handler: the failed condition on stderr, then abort()
// so that a core dump, gdb or the sanitizer shows the stack.
#include <cstdio>
#include <cstdlib>

#include "protocol/assert.hpp"

namespace pigeon {

void assert_failed(const char* condition, const char* file, int line) noexcept {
  std::fprintf(stderr, "pigeon: assertion failed: %s (%s:%d)\n", condition, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace pigeon
