// Idle memory on POSIX: pages that start-up wrote only zeros into (Mbed TLS
// clears its whole arena, constructors clear the spool index and the session
// slots) hold nothing yet, but stay resident until they are given back.
#pragma once

#include <cstddef>
#include <span>

namespace pigeon::hal {

// Gives back every whole page of `memory` that holds only zeros
// (madvise(MADV_DONTNEED)); the next access finds a fresh zero page, so what
// the program reads does not change, and a page is paid for again only when
// it is written. Returns the bytes given back.
//
// Only for private anonymous memory (the .bss, not .data: a file-backed page
// would read back the file), and only while nothing else can write to it (no
// other thread, no signal handler).
std::size_t release_zero_pages(std::span<std::byte> memory);

}  // namespace pigeon::hal
