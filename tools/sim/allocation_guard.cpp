#include "allocation_guard.hpp"

#include <cstdlib>
#include <new>

namespace pigeon::sim {
namespace {

int relay_code_depth = 0;  // the simulator is single-threaded
RelayAllocations allocations;

void note(std::size_t bytes) {
  if (relay_code_depth == 0) return;
  if (allocations.count++ == 0) allocations.first_bytes = bytes;
}

// nullptr when the machine is out of memory.
void* allocate(std::size_t bytes) {
  note(bytes);
  return std::malloc(bytes != 0 ? bytes : 1);
}

void* allocate_aligned(std::size_t bytes, std::align_val_t alignment) {
  note(bytes);
  const auto align = static_cast<std::size_t>(alignment);
  // aligned_alloc wants a size that is a multiple of the alignment.
  return std::aligned_alloc(align, (bytes + align - 1) / align * align);
}

// The simulator is built without exceptions: out of memory ends it.
void* or_abort(void* memory) {
  if (memory == nullptr) std::abort();
  return memory;
}

}  // namespace

RelayCode::RelayCode() { ++relay_code_depth; }
RelayCode::~RelayCode() { --relay_code_depth; }

RelayAllocations relay_allocations() { return allocations; }

}  // namespace pigeon::sim

// The replaceable allocation functions, and the deletes that match them (the
// sanitizers' runtime would otherwise see malloc's memory given to its delete).
void* operator new(std::size_t bytes) { return pigeon::sim::or_abort(pigeon::sim::allocate(bytes)); }
void* operator new[](std::size_t bytes) { return pigeon::sim::or_abort(pigeon::sim::allocate(bytes)); }
void* operator new(std::size_t bytes, std::align_val_t alignment) {
  return pigeon::sim::or_abort(pigeon::sim::allocate_aligned(bytes, alignment));
}
void* operator new[](std::size_t bytes, std::align_val_t alignment) {
  return pigeon::sim::or_abort(pigeon::sim::allocate_aligned(bytes, alignment));
}
void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept { return pigeon::sim::allocate(bytes); }
void* operator new[](std::size_t bytes, const std::nothrow_t&) noexcept { return pigeon::sim::allocate(bytes); }
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete[](void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete[](void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete(void* memory, std::align_val_t) noexcept { std::free(memory); }
void operator delete[](void* memory, std::align_val_t) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t, std::align_val_t) noexcept { std::free(memory); }
void operator delete[](void* memory, std::size_t, std::align_val_t) noexcept { std::free(memory); }
void operator delete(void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
void operator delete[](void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
