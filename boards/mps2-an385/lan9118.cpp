#include "lan9118.hpp"

#include <lwip/etharp.h>
#include <netif/ethernet.h>

extern "C" void lan9118_irq_handler();

namespace pigeon::board {
namespace {

// Registers (offsets from 0x40200000) and bits, from the LAN9118 data sheet.
constexpr std::uintptr_t base = 0x40200000;
constexpr std::uintptr_t rx_data = 0x00, tx_data = 0x20, rx_status = 0x40, tx_status = 0x48, id_rev = 0x50,
                         irq_cfg = 0x54, int_sts = 0x58, int_en = 0x5C, byte_test = 0x64, tx_cfg = 0x70,
                         hw_cfg = 0x74, rx_fifo_inf = 0x7C, tx_fifo_inf = 0x80, pmt_ctrl = 0x84,
                         mac_csr_cmd = 0xA4, mac_csr_data = 0xA8;
constexpr std::uint32_t mac_cr = 1, mac_addrh = 2, mac_addrl = 3;
constexpr std::uint32_t csr_busy = 1u << 31, csr_read = 1u << 30;
constexpr std::uint32_t int_rx_status_fifo_level = 1u << 3;
constexpr std::uint32_t tx_first = 1u << 13, tx_last = 1u << 12;
constexpr std::uint32_t rx_error = 1u << 15;
// IRQ_EN | IRQ_POL (active high) | IRQ_TYPE (push-pull): with QEMU's default
// polarity the line storms.
constexpr std::uint32_t irq_config = 0x111;
constexpr unsigned nic_irq = 13;

volatile std::uint32_t& reg(std::uintptr_t offset) { return *reinterpret_cast<volatile std::uint32_t*>(base + offset); }
volatile std::uint32_t& nvic(std::uintptr_t address) { return *reinterpret_cast<volatile std::uint32_t*>(address); }
constexpr std::uintptr_t nvic_iser = 0xE000E100, nvic_icer = 0xE000E180, nvic_icpr = 0xE000E280;

volatile bool frames_waiting = false;

std::uint32_t mac_csr(std::uint32_t index) {
  reg(mac_csr_cmd) = csr_busy | csr_read | index;
  while (reg(mac_csr_cmd) & csr_busy) {
  }
  return reg(mac_csr_data);
}

void set_mac_csr(std::uint32_t index, std::uint32_t value) {
  reg(mac_csr_data) = value;
  reg(mac_csr_cmd) = csr_busy | index;
  while (reg(mac_csr_cmd) & csr_busy) {
  }
}

bool reset_chip() {
  if (reg(byte_test) != 0x87654321u || (reg(id_rev) >> 16) != 0x0118) return false;
  reg(hw_cfg) = reg(hw_cfg) | 1u;  // SRST
  while (reg(hw_cfg) & 1u) {
  }
  while (!(reg(pmt_ctrl) & 1u)) {  // READY
  }
  return true;
}

}  // namespace

bool Lan9118::start(netif& interface) {
  if (!reset_chip()) return false;
  netif_ = &interface;
  ip4_addr_t none{};
  if (netif_add(&interface, &none, &none, &none, this, init_netif, ethernet_input) == nullptr) return false;
  netif_set_default(&interface);
  // Full duplex, transmit and receive on (this also clears QEMU's default
  // promiscuous mode); QEMU drops frames while RXEN is off.
  set_mac_csr(mac_cr, (1u << 20) | (1u << 3) | (1u << 2));
  reg(tx_cfg) = 1u << 1;  // TX_ON
  reg(int_sts) = 0xFFFFFFFFu;
  reg(irq_cfg) = irq_config;
  reg(int_en) = int_rx_status_fifo_level;
  // The reset level leaves the IRQ pending: clear it before enabling.
  nvic(nvic_icpr) = 1u << nic_irq;
  nvic(nvic_iser) = 1u << nic_irq;
  netif_set_link_up(&interface);
  netif_set_up(&interface);
  return true;
}

err_t Lan9118::init_netif(netif* interface) {
  const std::uint32_t low = mac_csr(mac_addrl);
  const std::uint32_t high = mac_csr(mac_addrh);
  interface->hwaddr_len = ETH_HWADDR_LEN;
  for (int i = 0; i < 4; ++i) interface->hwaddr[i] = static_cast<u8_t>(low >> (8 * i));
  interface->hwaddr[4] = static_cast<u8_t>(high);
  interface->hwaddr[5] = static_cast<u8_t>(high >> 8);
  interface->mtu = 1500;
  interface->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
  interface->name[0] = 'e';
  interface->name[1] = 'n';
  interface->output = etharp_output;
  interface->linkoutput = output;
  return ERR_OK;
}

// Copies the chain into the TX FIFO as little-endian words; QEMU does not pad
// short frames, so pad to the 60-byte minimum here.
err_t Lan9118::output(netif*, pbuf* frame) {
  const std::uint32_t length = frame->tot_len < 60 ? 60 : frame->tot_len;
  const std::uint32_t words = (length + 3) / 4;
  if (((reg(tx_fifo_inf) & 0xFFFF) + 3) / 4 < words + 2) return ERR_MEM;
  reg(tx_data) = tx_first | tx_last | length;
  reg(tx_data) = (length << 16) | length;
  std::uint32_t word = 0, filled = 0, sent = 0;
  auto push_byte = [&](std::uint8_t byte) {
    word |= static_cast<std::uint32_t>(byte) << (8 * filled);
    if (++filled == 4) {
      reg(tx_data) = word;
      word = 0;
      filled = 0;
    }
    ++sent;
  };
  for (const pbuf* piece = frame; piece != nullptr; piece = piece->next) {
    const auto* bytes = static_cast<const std::uint8_t*>(piece->payload);
    for (u16_t i = 0; i < piece->len; ++i) push_byte(bytes[i]);
  }
  while (sent < length) push_byte(0);
  if (filled != 0) reg(tx_data) = word;
  // Drop completion statuses so the status FIFO never fills.
  while ((reg(tx_fifo_inf) >> 16) & 0xFF) {
    const std::uint32_t status = reg(tx_status);
    static_cast<void>(status);
  }
  return ERR_OK;
}

void Lan9118::receive_frame(std::uint32_t status) {
  const std::uint32_t length_with_fcs = (status >> 16) & 0x3FFF;
  const std::uint32_t words = (length_with_fcs + 3) / 4;
  const bool usable = !(status & rx_error) && length_with_fcs > 4;
  pbuf* frame = usable ? pbuf_alloc(PBUF_RAW, static_cast<u16_t>(length_with_fcs - 4), PBUF_POOL) : nullptr;
  std::uint32_t offset = 0;
  for (std::uint32_t i = 0; i < words; ++i) {
    const std::uint32_t word = reg(rx_data);
    if (frame == nullptr) continue;  // drain the FIFO even when the frame is dropped
    for (int b = 0; b < 4 && offset < frame->tot_len; ++b, ++offset) {
      const auto byte = static_cast<std::uint8_t>(word >> (8 * b));
      pbuf_take_at(frame, &byte, 1, static_cast<u16_t>(offset));
    }
  }
  if (frame != nullptr && netif_->input(frame, netif_) != ERR_OK) pbuf_free(frame);
}

void Lan9118::service_interfaces() {
  if (!frames_waiting) return;
  frames_waiting = false;
  while ((reg(rx_fifo_inf) >> 16) & 0xFF) receive_frame(reg(rx_status));
  reg(int_sts) = int_rx_status_fifo_level;
  reg(int_en) = int_rx_status_fifo_level;
}

// Interrupts are masked between the check and WFI, so a frame that arrives in
// between still ends the sleep (WFI wakes on a pending interrupt).
void Lan9118::sleep(std::uint32_t) {
  asm volatile("cpsid i" ::: "memory");
  if (!frames_waiting) asm volatile("wfi" ::: "memory");
  asm volatile("cpsie i" ::: "memory");
}

}  // namespace pigeon::board

void lan9118_irq_handler() {
  using namespace pigeon::board;
  reg(int_en) = 0;  // masked until the main loop has read the FIFO
  reg(int_sts) = int_rx_status_fifo_level;
  frames_waiting = true;
}
