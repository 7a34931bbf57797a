// Finds command lines at the front of a receive buffer without copying them.
// SMTP and POP3 commands end in CRLF; a lone LF is accepted as a command line end
// too (DATA content is scanned separately and is strict, see docs/architecture.md §6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pigeon::protocol {

struct LineScan {
  enum class Kind : std::uint8_t {
    line,       // `line` holds one line without its line end
    need_more,  // no complete line yet; wait for more input (bytes of an
                // overlong line may still be consumed: call again if so)
    too_long,   // a line over the limit ended; it was discarded whole
  };
  Kind kind = Kind::need_more;
  std::string_view line;
  std::size_t consumed_bytes = 0;  // what the caller drops from the front of its input
};

class LineScanner {
 public:
  // `max_line_bytes` counts the CRLF, as RFC 5321 §4.5.3.1 does.
  explicit LineScanner(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  LineScan next(std::span<const std::uint8_t> input);
  // The engines' loop: the next line (or overlong one) of input[consumed..],
  // advancing `consumed` past what was read; need_more only once the input
  // is used up or holds no more than the start of a line.
  LineScan next_from(std::span<const std::uint8_t> input, std::size_t& consumed);
  // Forget a half-discarded overlong line (after STARTTLS/STLS).
  void reset() { discarding_ = false; }

 private:
  std::size_t max_line_bytes_;
  bool discarding_ = false;  // inside an overlong line: drop bytes up to its LF
};

}  // namespace pigeon::protocol
