#include "semihosting.hpp"

#include <cstdint>

namespace pigeon::board {

void semihosting_exit(int status) {
  constexpr std::uint32_t sys_exit_extended = 0x20;
  constexpr std::uint32_t application_exit = 0x20026;
  const std::uint32_t block[2] = {application_exit, static_cast<std::uint32_t>(status)};
  register std::uint32_t operation asm("r0") = sys_exit_extended;
  register const std::uint32_t* argument asm("r1") = block;
  asm volatile("bkpt 0xab" : : "r"(operation), "r"(argument) : "memory");
  for (;;) asm volatile("wfi");
}

}  // namespace pigeon::board
