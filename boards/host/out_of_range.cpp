// pigeon is compiled without exceptions, but libstdc++'s headers still call
// std::__throw_out_of_range_fmt when std::string_view::substr is given a start
// past the end (a bug in the caller: every caller checks first). The library's
// definition throws, and linking it brings the C++ exception machinery with it:
// throwing and catching, the personality routine, std::terminate's verbose
// handler and its C++ demangler: 70,264 B of the mipsel binary, 65,728 B of the
// aarch64 one (static glibc keeps the unwinder itself, for its own cleanups).
// Defined here, the call ends the relay as a failed PIGEON_ASSERT does.
#include "protocol/assert.hpp"

namespace std {

[[noreturn]] void __throw_out_of_range_fmt(const char* format, ...) {
  ::pigeon::assert_failed(format, "a std::string_view position past its end", 0);
}

}  // namespace std
