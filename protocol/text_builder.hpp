// Builds text into a fixed buffer without stdio: newlib-nano's snprintf pulls in
// malloc, which the board images must not link (docs/architecture.md §4).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace pigeon::protocol {

class TextBuilder {
 public:
  explicit TextBuilder(std::span<char> out) : out_(out) {}

  TextBuilder& text(std::string_view s) {
    if (s.empty()) return *this;  // memcpy may not be given the null pointer of an empty view
    if (used_ + s.size() > out_.size()) {
      overflow_ = true;
      return *this;
    }
    std::memcpy(out_.data() + used_, s.data(), s.size());
    used_ += s.size();
    return *this;
  }
  TextBuilder& character(char c) { return text(std::string_view(&c, 1)); }
  // Decimal, zero-padded to at least `width` digits.
  TextBuilder& number(std::int64_t value, int width = 1) {
    char digits[20];
    int count = 0;
    auto magnitude = static_cast<std::uint64_t>(value < 0 ? -value : value);
    do {
      digits[count++] = static_cast<char>('0' + magnitude % 10);
      magnitude /= 10;
    } while (magnitude != 0 || count < width);
    if (value < 0) character('-');
    while (count > 0) character(digits[--count]);
    return *this;
  }

  bool ok() const { return !overflow_; }
  // Bytes that can still be written.
  std::size_t room() const { return out_.size() - used_; }
  // What was written; empty after an overflow.
  std::string_view view() const { return overflow_ ? std::string_view{} : std::string_view(out_.data(), used_); }

 private:
  std::span<char> out_;
  std::size_t used_ = 0;
  bool overflow_ = false;
};

}  // namespace pigeon::protocol
