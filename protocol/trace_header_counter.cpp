#include "trace_header_counter.hpp"

#include "ascii.hpp"

namespace pigeon::protocol {

void TraceHeaderCounter::feed(std::span<const std::uint8_t> bytes) {
  for (const std::uint8_t byte : bytes) {
    if (in_body_) return;
    if (byte == '\n') {
      if (line_empty_) in_body_ = true;
      at_line_start_ = line_empty_ = true;
      matched_ = 0;
      continue;
    }
    if (byte != '\r') line_empty_ = false;
    if (!at_line_start_) continue;
    // Only a field name at the start of a line counts, not a folded line.
    if (matched_ < name_length_ && ascii::to_lower(static_cast<char>(byte)) == name_[matched_]) {
      if (++matched_ == name_length_) {
        ++count_;
        at_line_start_ = false;
      }
    } else if (byte != '\r') {
      at_line_start_ = false;
    }
  }
}

}  // namespace pigeon::protocol
