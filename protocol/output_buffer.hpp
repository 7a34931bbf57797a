// A caller-owned, fixed-size byte queue: engines append replies, the connection
// drains them to the network. Nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pigeon::protocol {

class OutputBuffer {
 public:
  explicit OutputBuffer(std::span<std::uint8_t> storage) : storage_(storage) {}

  std::size_t capacity() const { return storage_.size(); }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return end_ == begin_; }
  std::size_t free_space() const { return storage_.size() - size(); }

  // All or nothing: false (and nothing appended) when there is not room for all.
  bool append(std::span<const std::uint8_t> bytes);
  bool append(std::string_view text);

  // Bytes waiting to be sent, oldest first.
  std::span<const std::uint8_t> pending() const { return storage_.subspan(begin_, size()); }
  // Drops the first `count` pending bytes after they were sent.
  void consume(std::size_t count);
  void clear() { begin_ = end_ = 0; }

 private:
  // Moves pending bytes to the front so that the free space is contiguous.
  void compact();

  std::span<std::uint8_t> storage_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace pigeon::protocol
