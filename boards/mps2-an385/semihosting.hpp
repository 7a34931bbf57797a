// Leaving QEMU with an exit status (semihosting SYS_EXIT_EXTENDED). QEMU must run
// with -semihosting-config enable=on; tools/qemu-board always passes it.
#pragma once

namespace pigeon::board {

[[noreturn]] void semihosting_exit(int status);

}  // namespace pigeon::board
