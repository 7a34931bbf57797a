// The pieces of IMAP's grammar (RFC 9051 §9, RFC 3501 §9) that the server
// engine reads from an assembled command: atoms, strings (quoted or literal),
// numbers, sequence sets and dates; and the date-time it writes. Pure and
// allocation-free: everything is a view into the command's buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "assert.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol::imap {

// Reads a command from left to right. A literal is "{n}" or "{n+}", CRLF,
// then n bytes, exactly as the engine stored it.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool at_end() const { return text_.empty(); }
  std::string_view rest() const { return text_; }
  char peek() const { return text_.empty() ? '\0' : text_.front(); }
  // Consumes `c` when it is next.
  bool take(char c);
  // One space, as the grammar's SP.
  bool space() { return take(' '); }
  // ATOM-CHARs (RFC 9051 §9); `allow_bracket` also takes ']' (an astring's
  // atom). Empty when none, or when a byte is not ASCII.
  std::string_view atom(bool allow_bracket = false);
  // A LIST pattern's atom: ATOM-CHARs, ']' and the wildcards '%' and '*'.
  std::string_view list_pattern_atom();
  // Letters, digits and dots: a FETCH attribute's name before '[' or '<'.
  std::string_view keyword();
  // An astring: atom, quoted string (its escapes kept: see unquote) or literal.
  std::optional<std::string_view> astring();
  // A string: quoted or literal.
  std::optional<std::string_view> string();
  std::optional<std::uint32_t> number();
  // Up to the next space or ')' (a sequence set, a date), not consumed past.
  std::string_view token();
  // A parenthesised list, returned without its parentheses; nested lists,
  // strings and literals inside are skipped as units.
  std::optional<std::string_view> list();

 private:
  std::optional<std::string_view> quoted();
  std::optional<std::string_view> literal();

  std::string_view text_;
};

// A quoted string's content with its backslash escapes removed, into `out`.
std::string_view unquote(std::string_view quoted_content, std::span<char> out);

// True when `text` is a valid sequence set (RFC 9051 §9 sequence-set): numbers
// from 1, '*', ranges "a:b", joined by commas.
bool valid_sequence_set(std::string_view text);
// Whether `number` is in the set; '*' stands for `largest` (RFC 9051 §9: "*"
// is the largest number in use; an empty mailbox has none).
// The largest number the set names, '*' counted as `largest`.
std::uint32_t sequence_set_max(std::string_view text, std::uint32_t largest);
bool sequence_set_contains(std::string_view text, std::uint32_t number, std::uint32_t largest);

// Whether `name` matches a LIST pattern, where '*' and '%' match any run of
// characters (there is no hierarchy to stop '%' at).
bool pattern_matches(std::string_view pattern, std::string_view name);

// "d-Mon-yyyy" (RFC 9051 date, also quoted) as days since 1970-01-01.
std::optional<std::int32_t> parse_date(std::string_view text);
// The day of an RFC 5322 date-time, a Date: field's value ("[Mon,] 7 Dec 2026
// 10:00:00 +0100"), as days since 1970-01-01. The time and zone are
// disregarded, as SENTBEFORE, SENTON and SENTSINCE ask (RFC 9051 §6.4.4);
// comments are not read.
std::optional<std::int32_t> parse_message_date(std::string_view value);

// Writes ascending numbers as a compact sequence set ("1:3,7,9:10"), as
// ESEARCH's ALL does (RFC 4731 §3.1), a number at a time: a run goes out when
// a gap ends it or at finish(). Each call writes at most 22 bytes.
class SequenceSetWriter {
 public:
  static constexpr std::size_t max_write_bytes = 22;  // ",4294967295:4294967295"

  void add(std::uint32_t number, TextBuilder& out);
  void finish(TextBuilder& out);

 private:
  std::uint32_t first_ = 0;  // the run not yet written
  std::uint32_t last_ = 0;
  bool has_run_ = false;
  bool written_ = false;  // a run went out: the next one needs a comma
};

// Ascending numbers kept as a compact sequence set in a fixed buffer, as
// COPYUID's UID sets are built while the copies are made (RFC 4315 §3).
template <std::size_t capacity_bytes>
class SequenceSetText {
 public:
  // Whether one more number, and the run that finish() writes, still fit.
  bool has_room() const { return length_ + 2 * SequenceSetWriter::max_write_bytes <= text_.size(); }
  bool empty() const { return length_ == 0 && !pending_; }
  void add(std::uint32_t number) {
    PIGEON_ASSERT(has_room());
    TextBuilder out(std::span<char>(text_).subspan(length_));
    writer_.add(number, out);
    length_ += out.view().size();
    pending_ = true;
  }
  // The set with its last run; more may be added after.
  std::string_view text() {
    TextBuilder out(std::span<char>(text_).subspan(length_));
    writer_.finish(out);
    length_ += out.view().size();
    pending_ = false;
    return {text_.data(), length_};
  }
  void clear() { *this = {}; }

 private:
  std::array<char, capacity_bytes> text_{};
  std::size_t length_ = 0;
  bool pending_ = false;  // the writer holds a run not yet in text_
  SequenceSetWriter writer_;
};

// Seconds since the epoch as an IMAP date-time "dd-Mon-yyyy hh:mm:ss +0000".
std::string_view format_date_time(std::uint32_t unix_s, std::span<char, 26> out);

}  // namespace pigeon::protocol::imap
