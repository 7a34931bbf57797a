// The LAN9118 Ethernet controller of mps2-an385 as an lwIP netif. Receive is
// interrupt-driven: the IRQ only notes that frames wait (and masks itself); the
// main loop moves them into lwIP in service_interfaces(), so lwIP never runs in
// an interrupt. sleep() waits in WFI until the NIC or SysTick interrupts.
#pragma once

#include <lwip/netif.h>

#include "hal/lwip/lwip_net.hpp"

namespace pigeon::board {

class Lan9118 final : public hal::NetDriver {
 public:
  // Resets the chip, reads its MAC address and adds the netif to lwIP.
  bool start(netif& interface);
  void service_interfaces() override;
  void sleep(std::uint32_t max_ms) override;

 private:
  static err_t init_netif(netif* interface);
  static err_t output(netif* interface, pbuf* frame);
  void receive_frame(std::uint32_t status);

  netif* netif_ = nullptr;
};

}  // namespace pigeon::board
