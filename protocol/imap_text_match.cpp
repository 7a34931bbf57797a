#include "imap_text_match.hpp"

#include "ascii.hpp"

namespace pigeon::protocol::imap {

TextMatcher::TextMatcher(std::string_view pattern, bool field_values)
    : pattern_(pattern), field_values_(field_values), position_(field_values ? Position::line_start : Position::value) {
  if (pattern_.size() > max_pattern_bytes) return;
  found_ = pattern_.empty() && !field_values;
  std::size_t length = 0;
  for (std::size_t i = 1; i < pattern_.size(); ++i) {
    while (length > 0 && ascii::to_lower(pattern_[i]) != ascii::to_lower(pattern_[length])) length = fallback_[length - 1];
    if (ascii::to_lower(pattern_[i]) == ascii::to_lower(pattern_[length])) ++length;
    fallback_[i] = static_cast<std::uint8_t>(length);
  }
}

void TextMatcher::put(std::span<const std::uint8_t> bytes) {
  for (const std::uint8_t byte : bytes) {
    if (found_) return;
    const char c = static_cast<char>(byte);
    if (!field_values_) {
      advance(c);
      continue;
    }
    switch (position_) {
      case Position::line_start:
        // A folded line continues the value; any other begins the next field.
        if (c == ' ' || c == '\t') {
          position_ = Position::value;
          advance(c);
        } else {
          matched_ = 0;
          position_ = c == '\r' || c == '\n' ? Position::line_start : Position::name;
        }
        break;
      case Position::name:
        if (c == ':') {
          position_ = Position::value;
          found_ = pattern_.empty();
        }
        break;
      case Position::value:
        if (c == '\n') {
          position_ = Position::line_start;
        } else if (c != '\r') {
          advance(c);
        }
        break;
    }
  }
}

void TextMatcher::advance(char c) {
  if (pattern_.empty() || pattern_.size() > max_pattern_bytes) return;
  const char lower = ascii::to_lower(c);
  while (matched_ > 0 && lower != ascii::to_lower(pattern_[matched_])) matched_ = fallback_[matched_ - 1];
  if (lower == ascii::to_lower(pattern_[matched_])) ++matched_;
  if (matched_ == pattern_.size()) found_ = true;
}

}  // namespace pigeon::protocol::imap
