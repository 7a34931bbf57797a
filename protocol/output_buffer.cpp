#include "output_buffer.hpp"

#include <algorithm>
#include "assert.hpp"
#include <cstring>

namespace pigeon::protocol {

bool OutputBuffer::append(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > free_space()) return false;
  if (bytes.size() > storage_.size() - end_) compact();
  // std::copy, not memcpy: an empty span may have a null pointer.
  std::copy(bytes.begin(), bytes.end(), storage_.begin() + static_cast<std::ptrdiff_t>(end_));
  end_ += bytes.size();
  return true;
}

bool OutputBuffer::append(std::string_view text) {
  return append(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

void OutputBuffer::consume(std::size_t count) {
  PIGEON_ASSERT(count <= size());
  begin_ += count;
  if (begin_ == end_) begin_ = end_ = 0;
}

void OutputBuffer::compact() {
  std::memmove(storage_.data(), storage_.data() + begin_, size());
  end_ -= begin_;
  begin_ = 0;
}

}  // namespace pigeon::protocol
