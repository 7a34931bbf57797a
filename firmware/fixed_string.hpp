// A string with a compile-time capacity and no heap: configuration values,
// names and addresses that outlive the buffer they were parsed from.
#pragma once

#include <array>
#include <cstddef>
#include <cstring>
#include <string_view>

namespace pigeon {

template <std::size_t Capacity>
class FixedString {
 public:
  constexpr FixedString() = default;

  // False (and unchanged) when `text` does not fit.
  bool assign(std::string_view text) {
    if (text.size() > Capacity) return false;
    std::memcpy(bytes_.data(), text.data(), text.size());
    size_ = text.size();
    return true;
  }

  std::string_view view() const { return {bytes_.data(), size_}; }
  bool empty() const { return size_ == 0; }
  static constexpr std::size_t capacity() { return Capacity; }

 private:
  std::array<char, Capacity> bytes_{};
  std::size_t size_ = 0;
};

}  // namespace pigeon
