#include "imap_header_filter.hpp"

#include "ascii.hpp"
#include "imap_syntax.hpp"

namespace pigeon::protocol::imap {

HeaderFilter::HeaderFilter(HeaderSelection selection, std::string_view names)
    : selection_(selection), names_(names) {}

std::size_t HeaderFilter::feed(std::span<const std::uint8_t> raw, ByteSink& sink) {
  std::size_t i = 0;
  for (; i < raw.size() && state_ != State::done; ++i) {
    const std::uint8_t byte = raw[i];
    ++taken_;
    if (state_ == State::line_start && (byte == ' ' || byte == '\t')) {
      state_ = previous_included_ ? State::included : State::excluded;
    } else if (state_ == State::line_start) {
      state_ = State::name;
    }
    if (state_ == State::name) {
      if (byte == '\n' && (name_length_ == 0 || (name_length_ == 1 && name_[0] == '\r'))) {
        // The blank line: it ends the header and belongs to every selection.
        sink.put({name_.data(), name_length_});
        sink.put(raw.subspan(i, 1));
        state_ = State::done;
        continue;
      }
      if (byte != ':' && byte != '\n' && name_length_ < name_.size()) {
        name_[name_length_++] = byte;
        continue;
      }
      decide_field(sink);
    }
    if (state_ == State::included) sink.put(raw.subspan(i, 1));
    if (byte == '\n') state_ = State::line_start;
  }
  return i;
}

// The field's name is known (its colon came, or the line ended without one,
// or the name is longer than any we compare): the held bytes go out if the
// field belongs to the section.
void HeaderFilter::decide_field(ByteSink& sink) {
  std::string_view name(reinterpret_cast<const char*>(name_.data()), name_length_);
  const bool complete = name_length_ < name_.size();
  bool included = selection_ == HeaderSelection::all;
  if (selection_ != HeaderSelection::all) {
    const bool listed = complete && selected(ascii::trim(name));
    included = listed == (selection_ == HeaderSelection::fields);
  }
  if (included) sink.put({name_.data(), name_length_});
  name_length_ = 0;
  previous_included_ = included;
  state_ = included ? State::included : State::excluded;
}

void HeaderFilter::finish(ByteSink& sink) {
  if (state_ == State::name) decide_field(sink);
}

bool HeaderFilter::selected(std::string_view name) const {
  Cursor cursor(names_);
  while (!cursor.at_end()) {
    if (cursor.space()) continue;
    const auto listed = cursor.astring();
    if (!listed) return false;
    if (ascii::iequals(*listed, name)) return true;
  }
  return false;
}

}  // namespace pigeon::protocol::imap
