#include "dot_stuffer.hpp"

#include <algorithm>

namespace pigeon::protocol {

std::size_t DotStuffer::write(std::span<const std::uint8_t> bytes, OutputBuffer& out) {
  std::size_t taken = 0;
  while (taken < bytes.size()) {
    if (at_line_start_ && bytes[taken] == '.') {
      if (out.free_space() < 2) break;
      out.append(std::string_view(".."));
      at_line_start_ = after_cr_ = false;
      ++taken;
      continue;
    }
    // Copy up to (and including) the next LF in one append.
    const auto rest = bytes.subspan(taken);
    const auto newline = std::find(rest.begin(), rest.end(), std::uint8_t{'\n'});
    std::size_t length = static_cast<std::size_t>(newline - rest.begin()) + (newline == rest.end() ? 0 : 1);
    length = std::min(length, out.free_space());
    if (length == 0) break;
    out.append(rest.first(length));
    taken += length;
    const std::uint8_t last = rest[length - 1];
    at_line_start_ = last == '\n';
    after_cr_ = last == '\r';
  }
  return taken;
}

bool DotStuffer::finish(OutputBuffer& out) {
  const std::string_view terminator = at_line_start_ ? ".\r\n" : (after_cr_ ? "\n.\r\n" : "\r\n.\r\n");
  if (!out.append(terminator)) return false;
  reset();
  return true;
}

}  // namespace pigeon::protocol
