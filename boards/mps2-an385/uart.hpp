// The console: CMSDK UART0 of mps2-an385, polled (QEMU's -serial).
#pragma once

#include <cstdint>
#include <string_view>

namespace pigeon::board {

void uart_init();
void uart_write(std::string_view text);
void uart_write_hex(std::uint32_t value);
// The next received byte, or -1 when none is waiting.
int uart_read();

}  // namespace pigeon::board
