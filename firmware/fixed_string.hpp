// A string with a compile-time capacity and no heap: configuration values,
// names and addresses that outlive the buffer they were parsed from.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

namespace pigeon {

template <std::size_t Capacity>
class FixedString {
 public:
  constexpr FixedString() = default;

  // False (and unchanged) when `text` does not fit.
  bool assign(std::string_view text) {
    if (text.size() > Capacity) return false;
    // std::copy, not memcpy: an empty view may carry a null pointer (the null
    // reverse-path <>), which memcpy must not be given even for zero bytes.
    std::copy(text.begin(), text.end(), bytes_.begin());
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

namespace pigeon {

// Up to MaxCount strings packed into one buffer of Bytes: an envelope's
// recipients take what their addresses need, not MaxCount full-length slots.
template <std::size_t Bytes, std::size_t MaxCount>
class PackedStrings {
 public:
  // False (and unchanged) when the count or the bytes would overflow.
  bool add(std::string_view text) {
    if (count_ == MaxCount || used_ + text.size() > Bytes) return false;
    std::copy(text.begin(), text.end(), bytes_.begin() + static_cast<std::ptrdiff_t>(used_));
    ends_[count_++] = used_ + text.size();
    used_ += text.size();
    return true;
  }
  std::string_view operator[](std::size_t index) const {
    const std::size_t begin = index == 0 ? 0 : ends_[index - 1];
    return {bytes_.data() + begin, ends_[index] - begin};
  }
  std::size_t size() const { return count_; }
  void clear() { count_ = used_ = 0; }

 private:
  // Left uninitialised: only the first used_ bytes and count_ ends are read,
  // and a relay's idle memory does not pay for pages it never touches (the
  // host's SMTP sessions keep 25,600 bytes each for 100 recipients).
  std::array<char, Bytes> bytes_;
  std::array<std::size_t, MaxCount> ends_;
  std::size_t count_ = 0;
  std::size_t used_ = 0;
};

}  // namespace pigeon
