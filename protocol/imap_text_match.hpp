// SEARCH's text keys (RFC 3501 §6.4.4: FROM, SUBJECT, HEADER, BODY, TEXT...):
// whether a string occurs in bytes that stream past, case-insensitively for
// ASCII letters, without holding more than the string itself.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "imap_header_filter.hpp"

namespace pigeon::protocol::imap {

class TextMatcher final : public ByteSink {
 public:
  static constexpr std::size_t max_pattern_bytes = 255;

  // `pattern` must outlive the matcher; longer than max_pattern_bytes never
  // matches (the command's bound keeps patterns far shorter).
  // `field_values`: the bytes are header fields as HeaderFilter passes them,
  // and only their values are searched, unfolded (a line end inside a field is
  // skipped; a field's name and its colon are not searched; an empty pattern
  // matches any field that is there).
  TextMatcher(std::string_view pattern, bool field_values);

  void put(std::span<const std::uint8_t> bytes) override;
  bool found() const { return found_; }

 private:
  enum class Position : std::uint8_t { name, value, line_start };

  void advance(char c);

  std::string_view pattern_;
  bool field_values_;
  // Knuth-Morris-Pratt: the longest proper prefix of pattern[0..i] that is
  // also its suffix, so that every byte is looked at once.
  std::array<std::uint8_t, max_pattern_bytes> fallback_{};
  std::size_t matched_ = 0;
  bool found_ = false;
  Position position_ = Position::line_start;
};

}  // namespace pigeon::protocol::imap
