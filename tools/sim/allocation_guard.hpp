// The relay's promise of docs/architecture.md §4, checked in the simulator: no
// heap allocation once start-up has ended. The integration tier interposes
// malloc for a whole relay process (tests/alloc_guard); here the simulator's
// own code allocates all the time (its actors, its ledger), so the guard
// counts only while the relay's code runs: RelayHost enters a RelayCode scope
// around every call into a booted relay (its loop round, the alert API), and
// the world stops the run when the count is not 0. It sees operator new in
// all its forms; the relay's C code has no malloc, and Mbed TLS's memory
// comes from its arena.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pigeon::sim {

class RelayCode {
 public:
  RelayCode();
  ~RelayCode();
  RelayCode(const RelayCode&) = delete;
  RelayCode& operator=(const RelayCode&) = delete;
};

struct RelayAllocations {
  std::uint64_t count = 0;
  std::size_t first_bytes = 0;  // the size of the first one
};
// Every heap allocation made inside a RelayCode scope since the process began.
RelayAllocations relay_allocations();

}  // namespace pigeon::sim
