#include "zero_pages.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace pigeon::hal {
namespace {

// Word by word: the whole .bss is read once, at the end of start-up. Not
// instrumented: AddressSanitizer's red zones between globals are read too.
[[gnu::no_sanitize_address]] bool all_zero(const std::byte* page, std::size_t page_bytes) {
  const auto* words = reinterpret_cast<const std::uint64_t*>(page);
  std::uint64_t any_bit = 0;  // a plain loop: a called algorithm would be instrumented
  for (std::size_t word = 0; word < page_bytes / sizeof(std::uint64_t); ++word) any_bit |= words[word];
  return any_bit == 0;
}

// One madvise for a run of neighbouring zero pages.
std::size_t release(std::byte* first, std::byte* end) {
  if (first == end) return 0;
  const auto bytes = static_cast<std::size_t>(end - first);
  return ::madvise(first, bytes, MADV_DONTNEED) == 0 ? bytes : 0;
}

}  // namespace

std::size_t release_zero_pages(std::span<std::byte> memory) {
  const auto page_bytes = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin_address = reinterpret_cast<std::uintptr_t>(memory.data());
  const std::uintptr_t first_page = (begin_address + page_bytes - 1) / page_bytes * page_bytes;
  const std::uintptr_t end_page = (begin_address + memory.size()) / page_bytes * page_bytes;
  std::size_t released = 0;
  std::byte* run = nullptr;  // the first page of the current run of zero pages
  for (std::uintptr_t address = first_page; address < end_page; address += page_bytes) {
    auto* page = reinterpret_cast<std::byte*>(address);
    if (all_zero(page, page_bytes)) {
      if (run == nullptr) run = page;
      continue;
    }
    if (run != nullptr) released += release(run, page);
    run = nullptr;
  }
  if (run != nullptr) released += release(run, reinterpret_cast<std::byte*>(end_page));
  return released;
}

}  // namespace pigeon::hal
