// Dot-stuffing for multi-line responses and DATA sent onward (RFC 1939 §3,
// RFC 5321 §4.5.2): a '.' that starts a line gets a second '.', and the end is
// marked by CRLF "." CRLF. Streaming: state carries across pieces.
#pragma once

#include <cstdint>
#include <span>

#include "output_buffer.hpp"

namespace pigeon::protocol {

class DotStuffer {
 public:
  void reset() { at_line_start_ = true; after_cr_ = false; }
  // Appends as much of `bytes` as fits in `out`, stuffed; returns how many
  // input bytes it took.
  std::size_t write(std::span<const std::uint8_t> bytes, OutputBuffer& out);
  // Appends the terminator (with a CRLF first when the data did not end in
  // one); false when `out` lacks the 5 bytes it may need.
  bool finish(OutputBuffer& out);

 private:
  bool at_line_start_ = true;
  bool after_cr_ = false;
};

}  // namespace pigeon::protocol
