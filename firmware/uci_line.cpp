#include "uci_line.hpp"

#include <array>

#include "text.hpp"

namespace pigeon {
namespace {

// The bytes of one word as they are read, quotes and escapes undone.
class WordBuilder {
 public:
  bool add(char c) {
    if (length_ == bytes_.size()) return false;
    bytes_[length_++] = c;
    return true;
  }
  std::string_view view() const { return {bytes_.data(), length_}; }

 private:
  std::array<char, max_uci_words_bytes> bytes_{};
  std::size_t length_ = 0;
};

// Reads the word that begins at `at`; returns where it ends, or the reason
// it is malformed in `error`.
std::size_t read_word(std::string_view line, std::size_t at, WordBuilder& word, std::string_view& error) {
  char quote = 0;  // the open quote, or 0 outside quotes
  for (; at < line.size(); ++at) {
    char c = line[at];
    if (quote == 0 && ascii::is_space(c)) break;
    if (c == quote) {
      quote = 0;
      continue;
    }
    if (quote == 0 && (c == '\'' || c == '"')) {
      quote = c;
      continue;
    }
    if (c == '\\' && quote != '\'') {
      if (++at == line.size()) {
        error = "a backslash at the end of the line (continued lines are not read)";
        return at;
      }
      c = line[at];
    }
    if (!word.add(c)) {
      error = "the line's words are too long";
      return at;
    }
  }
  if (quote != 0) error = quote == '\'' ? "a ' without its closing quote" : "a \" without its closing quote";
  return at;
}

}  // namespace

UciLine::UciLine(std::string_view line) {
  std::size_t at = 0;
  while (error_.empty()) {
    while (at < line.size() && ascii::is_space(line[at])) ++at;
    if (at == line.size() || line[at] == '#') return;
    if (words_.size() == max_words) {
      error_ = "too many words (a value with blanks is written in quotes)";
      return;
    }
    WordBuilder word;
    at = read_word(line, at, word, error_);
    if (error_.empty() && !words_.add(word.view())) error_ = "the line's words are too long";
  }
}

}  // namespace pigeon
