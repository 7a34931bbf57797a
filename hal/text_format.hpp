// A small printf-style formatter into a caller's buffer, for code that must not
// use the C library's: newlib's snprintf links malloc, and boards have no heap.
// It knows the conversions pigeon uses: %d %i %u %x %X %c %s %p %%, with flags
// '-' and '0', width and precision (also '*'), and the length modifiers hh h l
// ll z. Like vsnprintf it always terminates the output and returns the length
// the whole text would have had.
#pragma once

#include <cstdarg>
#include <cstddef>

namespace pigeon::hal {

int format_text(char* out, std::size_t size, const char* format, std::va_list args);

[[gnu::format(printf, 3, 4)]] inline int format_text(char* out, std::size_t size, const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  const int length = format_text(out, size, format, args);
  va_end(args);
  return length;
}

// Copies a log line's text with every control byte (below 0x20, and DEL)
// written as "\xHH": text a client chose (a login name with a line feed, a
// terminal escape) can then neither start a forged log line nor drive the
// reader's terminal. Stops where the next byte or escape would not fit, always
// terminates `out` (size > 0), and returns the length written.
std::size_t escape_control_bytes(const char* text, std::size_t length, char* out, std::size_t size);

}  // namespace pigeon::hal
