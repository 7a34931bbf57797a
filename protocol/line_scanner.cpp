#include "line_scanner.hpp"

#include <algorithm>

namespace pigeon::protocol {

LineScan LineScanner::next(std::span<const std::uint8_t> input) {
  const std::size_t window = discarding_ ? input.size() : std::min(input.size(), max_line_bytes_);
  const auto end = input.begin() + static_cast<std::ptrdiff_t>(window);
  const auto newline = std::find(input.begin(), end, std::uint8_t{'\n'});

  if (newline == end) {
    if (discarding_ || input.size() >= max_line_bytes_) {
      // Overlong: drop what we have, keep dropping until the line ends.
      discarding_ = true;
      return {LineScan::Kind::need_more, {}, window};
    }
    return {};
  }

  const auto length = static_cast<std::size_t>(newline - input.begin());
  if (discarding_) {
    discarding_ = false;
    return {LineScan::Kind::too_long, {}, length + 1};
  }
  std::size_t text_length = length;
  if (text_length > 0 && input[text_length - 1] == '\r') --text_length;
  return {LineScan::Kind::line,
          std::string_view(reinterpret_cast<const char*>(input.data()), text_length), length + 1};
}

LineScan LineScanner::next_from(std::span<const std::uint8_t> input, std::size_t& consumed) {
  for (;;) {
    const LineScan scan = next(input.subspan(consumed));
    consumed += scan.consumed_bytes;
    // Bytes of an overlong line went by: look again at what follows them.
    if (scan.kind != LineScan::Kind::need_more || scan.consumed_bytes == 0 || consumed == input.size()) {
      return scan;
    }
  }
}

}  // namespace pigeon::protocol
