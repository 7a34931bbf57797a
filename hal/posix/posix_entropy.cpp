#include "posix_entropy.hpp"

#include <sys/random.h>

#include <cerrno>

namespace pigeon::hal {

bool PosixEntropy::fill(std::span<std::uint8_t> out) {
  std::size_t filled = 0;
  while (filled < out.size()) {
    const ssize_t got = getrandom(out.data() + filled, out.size() - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    filled += static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace pigeon::hal
