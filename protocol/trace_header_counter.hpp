// Counts the Received trace headers of a message while it streams through
// DATA, without buffering it: a message that has passed through too many
// relays is caught in a loop (RFC 5321 §6.3) and is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pigeon::protocol {

class TraceHeaderCounter {
 public:
  // Bytes of the message in order, in any pieces (CRLF line ends).
  void feed(std::span<const std::uint8_t> bytes);
  void reset() { *this = {}; }
  std::size_t received_headers() const { return count_; }

 private:
  static constexpr char name_[] = "received:";
  static constexpr std::size_t name_length_ = sizeof name_ - 1;

  std::size_t count_ = 0;
  std::size_t matched_ = 0;    // characters of "received:" matched at a line start
  bool at_line_start_ = true;
  bool line_empty_ = true;     // nothing but CR so far on this line
  bool in_body_ = false;       // the empty line that ends the header section was seen
};

}  // namespace pigeon::protocol
