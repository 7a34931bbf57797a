#include "uart.hpp"

namespace pigeon::board {
namespace {

constexpr std::uintptr_t uart0 = 0x40004000;
volatile std::uint32_t& uart_reg(std::uintptr_t offset) {
  return *reinterpret_cast<volatile std::uint32_t*>(uart0 + offset);
}
constexpr std::uintptr_t data = 0x00, state = 0x04, control = 0x08, baud_divider = 0x10;
constexpr std::uint32_t tx_full = 1u, rx_full = 2u, tx_enable = 1u, rx_enable = 2u;

void put(char c) {
  while (uart_reg(state) & tx_full) {
  }
  uart_reg(data) = static_cast<std::uint8_t>(c);
}

}  // namespace

// TX_EN is required: without it QEMU keeps TXFULL set and put() would hang.
void uart_init() {
  uart_reg(baud_divider) = 16;
  uart_reg(control) = tx_enable | rx_enable;
}

void uart_write(std::string_view text) {
  for (char c : text) put(c);
}

void uart_write_hex(std::uint32_t value) {
  for (int shift = 28; shift >= 0; shift -= 4) put("0123456789abcdef"[(value >> shift) & 0xF]);
}

int uart_read() {
  if ((uart_reg(state) & rx_full) == 0) return -1;
  return static_cast<int>(uart_reg(data) & 0xFF);
}

}  // namespace pigeon::board
