// One line of an OpenWrt UCI file (/etc/config/NAME) split into its words, as
// libuci reads them (docs/routers.md, "UCI"): `config TYPE ['NAME']`,
// `option KEY 'VALUE'`, `list KEY 'VALUE'`, `package NAME`. Pure: no I/O, no heap.
#pragma once

#include <cstddef>
#include <string_view>

#include "fixed_string.hpp"

namespace pigeon {

// The longest line's words together: a user's name and password hash (225
// bytes) or a long list of local domains, with room to spare.
inline constexpr std::size_t max_uci_words_bytes = 512;

class UciLine {
 public:
  // A word is made of adjacent parts: '...' taken as written, "..." where a
  // backslash takes the next byte as it is, and unquoted bytes (a backslash
  // likewise); blanks outside quotes end it. A '#' that begins a word starts a
  // comment. `words` is empty for a blank or comment-only line.
  explicit UciLine(std::string_view line);

  std::string_view error() const { return error_; }  // empty when the line is well-formed
  std::size_t size() const { return words_.size(); }
  std::string_view operator[](std::size_t index) const { return words_[index]; }

 private:
  static constexpr std::size_t max_words = 4;  // a keyword, two arguments, and one too many

  PackedStrings<max_uci_words_bytes, max_words> words_;
  std::string_view error_;
};

}  // namespace pigeon
