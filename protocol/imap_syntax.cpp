#include "imap_syntax.hpp"

#include <array>

#include "ascii.hpp"
#include "assert.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol::imap {
namespace {

constexpr std::array<std::string_view, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::int64_t seconds_per_day = 86400;

bool is_atom_char(char c, bool allow_bracket, bool allow_wildcards) {
  if (ascii::is_control(c) || ascii::is_non_ascii(c)) return false;
  switch (c) {
    case '(': case ')': case '{': case ' ': case '"': case '\\': return false;
    case '%': case '*': return allow_wildcards;
    case ']': return allow_bracket;
    default: return true;
  }
}

// Days since 1970-01-01 of a proleptic Gregorian date, counting in 400-year
// eras that start on March 1st so that February's length comes last.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

// 1..12 for a month's three-letter name in any case, 0 for anything else.
unsigned month_number(std::string_view name) {
  for (unsigned m = 0; m < month_names.size(); ++m) {
    if (ascii::iequals(month_names[m], name)) return m + 1;
  }
  return 0;
}

// The words of a header value, split at spaces and tabs (a folded value has
// been unfolded).
class Words {
 public:
  explicit Words(std::string_view text) : text_(text) {}
  std::string_view next() {
    const auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (!text_.empty() && blank(text_.front())) text_.remove_prefix(1);
    std::size_t length = 0;
    while (length < text_.size() && !blank(text_[length])) ++length;
    const std::string_view word = text_.substr(0, length);
    text_.remove_prefix(length);
    return word;
  }

 private:
  std::string_view text_;
};

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  return {static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool parse_range_end(std::string_view text, std::uint32_t& value, bool& star) {
  star = text == "*";
  if (star) return true;
  const auto number = ascii::parse_u32(text);
  if (!number || *number == 0) return false;
  value = *number;
  return true;
}

// Calls `range(low, high)` for every element of a valid set; '*' is `largest`.
template <class Range>
bool for_each_range(std::string_view text, std::uint32_t largest, Range range) {
  if (text.empty()) return false;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view element = text.substr(0, comma);
    const std::size_t colon = element.find(':');
    std::uint32_t first = 0, last = 0;
    bool first_star = false, last_star = false;
    if (!parse_range_end(element.substr(0, colon), first, first_star)) return false;
    if (colon == std::string_view::npos) {
      last = first;
      last_star = first_star;
    } else if (!parse_range_end(element.substr(colon + 1), last, last_star)) {
      return false;
    }
    if (first_star) first = largest;
    if (last_star) last = largest;
    if (range(first < last ? first : last, first < last ? last : first)) return true;
    if (comma == std::string_view::npos) return true;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace

bool Cursor::take(char c) {
  if (text_.empty() || text_.front() != c) return false;
  text_.remove_prefix(1);
  return true;
}

std::string_view Cursor::atom(bool allow_bracket) {
  std::size_t length = 0;
  while (length < text_.size() && is_atom_char(text_[length], allow_bracket, false)) ++length;
  // A byte that is not ASCII ends nothing: the whole token is invalid.
  if (length < text_.size() && ascii::is_non_ascii(text_[length])) return {};
  const std::string_view word = text_.substr(0, length);
  text_.remove_prefix(length);
  return word;
}

std::string_view Cursor::list_pattern_atom() {
  std::size_t length = 0;
  while (length < text_.size() && is_atom_char(text_[length], true, true)) ++length;
  const std::string_view word = text_.substr(0, length);
  text_.remove_prefix(length);
  return word;
}

std::string_view Cursor::keyword() {
  std::size_t length = 0;
  while (length < text_.size() && (ascii::is_alnum(text_[length]) || text_[length] == '.')) ++length;
  const std::string_view word = text_.substr(0, length);
  text_.remove_prefix(length);
  return word;
}

std::optional<std::string_view> Cursor::astring() {
  if (peek() == '"' || peek() == '{') return string();
  const std::string_view word = atom(true);
  if (word.empty()) return std::nullopt;
  return word;
}

std::optional<std::string_view> Cursor::string() {
  if (peek() == '"') return quoted();
  if (peek() == '{') return literal();
  return std::nullopt;
}

std::optional<std::string_view> Cursor::quoted() {
  take('"');
  for (std::size_t i = 0; i < text_.size(); ++i) {
    const char c = text_[i];
    if (c == '\\') {
      if (i + 1 == text_.size() || (text_[i + 1] != '\\' && text_[i + 1] != '"')) return std::nullopt;
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n' || c == '\0') return std::nullopt;
    if (c == '"') {
      const std::string_view content = text_.substr(0, i);
      text_.remove_prefix(i + 1);
      return content;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> Cursor::literal() {
  take('{');
  const std::size_t close = text_.find('}');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view digits = text_.substr(0, close);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  const auto length = ascii::parse_u32(digits);
  if (!length || text_.substr(close + 1, 2) != "\r\n" || text_.size() - close - 3 < *length) return std::nullopt;
  const std::string_view content = text_.substr(close + 3, *length);
  text_.remove_prefix(close + 3 + *length);
  return content;
}

std::optional<std::uint32_t> Cursor::number() {
  std::size_t length = 0;
  while (length < text_.size() && ascii::is_digit(text_[length])) ++length;
  const auto value = ascii::parse_u32(text_.substr(0, length));
  if (value) text_.remove_prefix(length);
  return value;
}

std::string_view Cursor::token() {
  std::size_t length = 0;
  while (length < text_.size() && text_[length] != ' ' && text_[length] != ')') ++length;
  const std::string_view word = text_.substr(0, length);
  text_.remove_prefix(length);
  return word;
}

std::optional<std::string_view> Cursor::list() {
  if (!take('(')) return std::nullopt;
  const std::string_view start = text_;
  int depth = 1;
  while (!text_.empty()) {
    const char c = text_.front();
    if (c == '"' || c == '{') {
      if (!string()) return std::nullopt;
      continue;
    }
    text_.remove_prefix(1);
    if (c == '(') ++depth;
    if (c == ')' && --depth == 0) return start.substr(0, start.size() - text_.size() - 1);
  }
  return std::nullopt;
}

std::string_view unquote(std::string_view quoted_content, std::span<char> out) {
  std::size_t length = 0;
  for (std::size_t i = 0; i < quoted_content.size() && length < out.size(); ++i) {
    if (quoted_content[i] == '\\') ++i;
    if (i < quoted_content.size()) out[length++] = quoted_content[i];
  }
  return {out.data(), length};
}

bool valid_sequence_set(std::string_view text) {
  return for_each_range(text, 1, [](std::uint32_t, std::uint32_t) { return false; });
}

std::uint32_t sequence_set_max(std::string_view text, std::uint32_t largest) {
  std::uint32_t maximum = 0;
  for_each_range(text, largest, [&](std::uint32_t, std::uint32_t high) {
    maximum = high > maximum ? high : maximum;
    return false;
  });
  return maximum;
}

bool pattern_matches(std::string_view pattern, std::string_view name) {
  // Greedy with one backtrack point: the last wildcard seen.
  std::size_t p = 0, n = 0, star = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '*' || pattern[p] == '%')) {
      star = p++;
      star_n = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && (pattern[p] == '*' || pattern[p] == '%')) ++p;
  return p == pattern.size();
}

bool sequence_set_contains(std::string_view text, std::uint32_t number, std::uint32_t largest) {
  bool found = false;
  for_each_range(text, largest, [&](std::uint32_t low, std::uint32_t high) {
    found = low <= number && number <= high;
    return found;
  });
  return found;
}

std::optional<std::int32_t> parse_date(std::string_view text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  const std::size_t first_dash = text.find('-');
  if (first_dash == std::string_view::npos || text.size() < first_dash + 9 || text[first_dash + 4] != '-') {
    return std::nullopt;
  }
  const auto day = ascii::parse_u32(text.substr(0, first_dash));
  const auto year = ascii::parse_u32(text.substr(first_dash + 5));
  const unsigned month = month_number(text.substr(first_dash + 1, 3));
  if (!day || !year || month == 0 || *day == 0 || *day > 31 || text.size() != first_dash + 9 || *year > 9999) {
    return std::nullopt;
  }
  return static_cast<std::int32_t>(days_from_civil(*year, month, *day));
}

std::optional<std::int32_t> parse_message_date(std::string_view value) {
  Words words(value);
  std::string_view word = words.next();
  if (!word.empty() && word.back() == ',') word = words.next();  // "Mon," (day-name, RFC 5322 §3.3)
  const auto day = ascii::parse_u32(word);
  const unsigned month = month_number(words.next());
  const std::string_view year_digits = words.next();
  auto year = ascii::parse_u32(year_digits);
  if (!day || *day == 0 || *day > 31 || month == 0 || !year || year_digits.size() < 2 || *year > 9999) {
    return std::nullopt;
  }
  // Obsolete years (RFC 5322 §4.3): two digits below 50 are 20xx, the rest and
  // three digits are counted from 1900.
  if (year_digits.size() == 2) *year += *year < 50 ? 2000 : 1900;
  if (year_digits.size() == 3) *year += 1900;
  return static_cast<std::int32_t>(days_from_civil(*year, month, *day));
}

void SequenceSetWriter::add(std::uint32_t number, TextBuilder& out) {
  PIGEON_ASSERT(!has_run_ || number > last_);
  if (has_run_ && number == last_ + 1) {
    last_ = number;
    return;
  }
  finish(out);
  first_ = last_ = number;
  has_run_ = true;
}

void SequenceSetWriter::finish(TextBuilder& out) {
  if (!has_run_) return;
  if (written_) out.character(',');
  out.number(first_);
  if (last_ != first_) out.character(':').number(last_);
  written_ = true;
  has_run_ = false;
}

std::string_view format_date_time(std::uint32_t unix_s, std::span<char, 26> out) {
  const std::int64_t days = unix_s / seconds_per_day;
  const std::int64_t second_of_day = unix_s % seconds_per_day;
  const CivilDate date = civil_from_days(days);
  TextBuilder builder(out);
  builder.number(date.day, 2).character('-').text(month_names[date.month - 1]).character('-').number(date.year, 4);
  builder.character(' ').number(second_of_day / 3600, 2).character(':').number(second_of_day / 60 % 60, 2);
  builder.character(':').number(second_of_day % 60, 2).text(" +0000");
  return builder.view();
}

}  // namespace pigeon::protocol::imap
