// The console: CMSDK UART0 of mps2-an385, polled transmit (QEMU's -serial).
#pragma once

#include <cstdint>
#include <string_view>

namespace pigeon::board {

void uart_init();
void uart_write(std::string_view text);
void uart_write_hex(std::uint32_t value);

}  // namespace pigeon::board
