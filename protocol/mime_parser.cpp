#include "mime_parser.hpp"

#include <algorithm>
#include <cstring>

#include "ascii.hpp"
#include "assert.hpp"
#include "imap_syntax.hpp"

namespace pigeon::protocol::mime {
namespace {

using ascii::iequals;

// RFC 2045 §5.1: tspecials, which end a token.
bool is_token_char(char c) {
  if (ascii::is_control(c) || c == ' ' || ascii::is_non_ascii(c)) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

// What may follow a boundary on its line: transport padding (RFC 2046 §5.1.1).
bool is_padding(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

void ValueReader::skip_space_and_comments() {
  int depth = 0;
  while (!text_.empty()) {
    const char c = text_.front();
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (c == '\\' && depth > 0 && text_.size() > 1) {
      text_.remove_prefix(1);
    } else if (depth == 0 && !ascii::is_space(c)) {
      return;
    }
    text_.remove_prefix(1);
  }
}

std::string_view ValueReader::token() {
  skip_space_and_comments();
  std::size_t length = 0;
  while (length < text_.size() && is_token_char(text_[length])) ++length;
  const std::string_view word = text_.substr(0, length);
  text_.remove_prefix(length);
  return word;
}

bool ValueReader::take(char c) {
  skip_space_and_comments();
  if (text_.empty() || text_.front() != c) return false;
  text_.remove_prefix(1);
  return true;
}

std::optional<std::string_view> ValueReader::quoted_content() {
  // The opening quote has been taken.
  for (std::size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\\') {
      ++i;
    } else if (text_[i] == '"') {
      const std::string_view content = text_.substr(0, i);
      text_.remove_prefix(i + 1);
      return content;
    }
  }
  return std::nullopt;
}

std::optional<ValueReader::Parameter> ValueReader::next_parameter() {
  if (!take(';')) return std::nullopt;
  // Mail in the wild ends a list with ";", or doubles it.
  while (take(';')) {
  }
  Parameter parameter;
  parameter.name = token();
  if (parameter.name.empty() || !take('=')) return std::nullopt;
  if (take('"')) {
    const auto content = quoted_content();
    if (!content) return std::nullopt;
    parameter.value = *content;
    parameter.quoted = true;
    return parameter;
  }
  parameter.value = token();
  return parameter;
}

ContentType parse_content_type(std::string_view value, std::span<char> buffer) {
  ValueReader reader(value);
  ContentType result;
  const std::string_view type = reader.token();
  if (type.empty() || !reader.take('/')) return result;
  const std::string_view subtype = reader.token();
  if (subtype.empty()) return result;
  result.type = type;
  result.subtype = subtype;
  while (const auto parameter = reader.next_parameter()) {
    if (!iequals(parameter->name, "boundary") || !result.boundary.empty()) continue;
    result.boundary = parameter->quoted ? imap::unquote(parameter->value, buffer) : parameter->value;
    // A boundary cut to fit the buffer would match the wrong lines: none then.
    if (parameter->quoted && result.boundary.size() == buffer.size()) result.boundary = {};
  }
  return result;
}

std::optional<std::uint8_t> Structure::first_child(std::uint8_t part) const {
  if (part + 1 < count && parts[part + 1].parent == part) return static_cast<std::uint8_t>(part + 1);
  return std::nullopt;
}

std::optional<std::uint8_t> Structure::next_sibling(std::uint8_t part) const {
  // Parts are in pre-order, so `part`'s subtree is the run of parts after it
  // whose parents are in it (index >= part); the part after that run is the
  // next sibling when it has the same parent.
  for (std::size_t next = part + 1; next < count; ++next) {
    if (parts[next].parent >= part) continue;
    if (parts[next].parent == parts[part].parent) return static_cast<std::uint8_t>(next);
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::uint8_t> Structure::find(std::string_view part_number) const {
  if (count == 0 || part_number.empty()) return std::nullopt;
  // Part n of a message (the top one or an embedded one): its n-th child
  // when it is multipart, else its body when n is 1 (RFC 9051 §6.4.5).
  const auto nth_of_message = [&](std::uint8_t message, std::uint32_t n) -> std::optional<std::uint8_t> {
    if (parts[message].kind != PartKind::multipart) return n == 1 ? std::optional<std::uint8_t>(message) : std::nullopt;
    std::optional<std::uint8_t> child = first_child(message);
    for (std::uint32_t i = 1; child && i < n; ++i) child = next_sibling(*child);
    return child;
  };
  std::optional<std::uint8_t> current;
  while (!part_number.empty()) {
    const std::size_t dot = part_number.find('.');
    const auto n = ascii::parse_u32(part_number.substr(0, dot));
    if (!n || *n == 0) return std::nullopt;
    part_number = dot == std::string_view::npos ? std::string_view{} : part_number.substr(dot + 1);
    if (!current) {
      current = nth_of_message(0, *n);
    } else if (parts[*current].kind == PartKind::multipart) {
      current = nth_of_message(*current, *n);
    } else if (parts[*current].kind == PartKind::message) {
      current = nth_of_message(*first_child(*current), *n);
    } else {
      return std::nullopt;
    }
    if (!current) return std::nullopt;
  }
  return current;
}

Parser::Parser(Structure& out) : out_(out) {
  out_ = Structure{};
  begin_part(0, no_parent, false);
}

void Parser::feed(std::span<const std::uint8_t> bytes) {
  for (const std::uint8_t byte : bytes) take(byte);
}

void Parser::finish() {
  // A last line without a line break may still be a boundary ("--b--" at the very end).
  if (line_bytes_ > 0) match_boundary(line_bytes_ - (last_was_cr_ ? 1 : 0), line_breaks_);
  close_to(0, offset_, line_breaks_);
}

void Parser::take(std::uint8_t byte) {
  const char c = static_cast<char>(byte);
  if (line_bytes_ == 0) line_start_ = offset_;
  if (open_count_ > 0 && top().phase == Phase::header) header_byte(c);
  if (line_bytes_ < line_.size()) {
    line_[line_bytes_] = c;
  } else if (!is_padding(c) && c != '\n') {
    line_tail_blank_ = false;
  }
  ++line_bytes_;
  ++offset_;
  if (c == '\n') {
    ++line_breaks_;
    line_end();
  }
  last_was_cr_ = c == '\r';
}

// Follows the header's fields and keeps the first Content-Type's value.
void Parser::header_byte(char c) {
  if (line_bytes_ == 0 && c != ' ' && c != '\t') {
    field_ = c == '\r' || c == '\n' ? Field::other : Field::name;
    name_length_ = 0;
  }
  switch (field_) {
    case Field::name:
      if (c == ':') {
        const bool named = name_length_ <= name_.size() &&
                           iequals(ascii::trim({name_.data(), name_length_}), "Content-Type");
        field_ = named && !content_type_seen_ ? Field::content_type : Field::other;
        content_type_seen_ |= named;
      } else if (c == '\n') {
        field_ = Field::other;
      } else {
        if (name_length_ < name_.size()) name_[name_length_] = c;
        ++name_length_;  // past the buffer: a name no field of interest has
      }
      break;
    case Field::content_type:
      // Unfolding removes the line breaks and keeps the white space (RFC 5322 §2.2.3).
      if (c != '\r' && c != '\n' && content_type_length_ < content_type_.size()) {
        content_type_[content_type_length_++] = c;
      }
      break;
    case Field::other: break;
  }
}

void Parser::line_end() {
  const std::uint32_t content_bytes = line_bytes_ - (last_was_cr_ ? 2 : 1);
  if (!match_boundary(content_bytes, line_breaks_ - 1) && open_count_ > 0 && top().phase == Phase::header && content_bytes == 0) {
    end_header();
  }
  previous_break_bytes_ = last_was_cr_ ? 2 : 1;
  line_bytes_ = 0;
  line_tail_blank_ = true;
}

// Whether the line just ended is a boundary of an open multipart, innermost
// first; one of an outer multipart ends the inner ones (RFC 2046 §5.1.2).
bool Parser::match_boundary(std::uint32_t content_bytes, std::uint32_t breaks_before_line) {
  const std::size_t kept = std::min<std::size_t>(content_bytes, line_.size());
  const std::string_view line(line_.data(), kept);
  if (!line.starts_with("--")) return false;
  for (std::size_t depth = open_count_; depth-- > 0;) {
    Open& open = open_[depth];
    if (open.boundary_length == 0 || (open.phase != Phase::preamble && open.phase != Phase::children)) continue;
    const std::string_view boundary(boundaries_.data() + open.boundary_offset, open.boundary_length);
    if (!line.substr(2).starts_with(boundary)) continue;
    std::string_view rest = line.substr(2 + boundary.size());
    const bool close = rest.starts_with("--");
    if (close) rest.remove_prefix(2);
    if (!std::all_of(rest.begin(), rest.end(), is_padding) || (content_bytes > kept && !line_tail_blank_)) continue;
    // The line break before the boundary belongs to it.
    const std::uint32_t end = line_start_ - previous_break_bytes_;
    close_to(depth + 1, end, breaks_before_line - 1);
    if (close) {
      open.phase = Phase::epilogue;
    } else {
      open.phase = Phase::children;
      begin_part(offset_, open.part, open.digest);
    }
    return true;
  }
  return false;
}

// The blank line after a part's header: what its Content-Type says decides
// how its body is read.
void Parser::end_header() {
  Open& open = top();
  Part& part = out_.parts[open.part];
  part.body_offset = offset_;
  open.lines_before_body = line_breaks_;
  open.phase = Phase::body;
  std::array<char, max_boundary_bytes + 1> boundary{};
  const ContentType type = content_type_seen_
                               ? parse_content_type({content_type_.data(), content_type_length_}, boundary)
                               : ContentType{};
  content_type_seen_ = false;
  content_type_length_ = 0;
  field_ = Field::other;
  // RFC 2045 §5.2: no Content-Type, or one that cannot be read, means the default.
  part.has_content_type = !type.type.empty();
  if (!part.has_content_type) {
    part.kind = part.in_digest ? PartKind::message : PartKind::text;
  } else if (iequals(type.type, "multipart")) {
    part.kind = PartKind::multipart;
  } else if (iequals(type.type, "message") && iequals(type.subtype, "rfc822")) {
    part.kind = PartKind::message;
  } else {
    part.kind = iequals(type.type, "text") ? PartKind::text : PartKind::basic;
  }
  if (part.kind == PartKind::multipart) {
    open.digest = iequals(type.subtype, "digest");
    begin_multipart(open, type.boundary);
  } else if (part.kind == PartKind::message) {
    begin_message(open);
  }
}

void Parser::begin_multipart(Open& open, std::string_view boundary) {
  Part& part = out_.parts[open.part];
  const bool room = open_count_ < open_.size() && boundaries_used_ + boundary.size() <= boundaries_.size();
  if (boundary.empty() || boundary.size() > max_boundary_bytes || !room) {
    // Without a boundary its parts cannot be told apart (RFC 2046 §5.1.1).
    part.kind = PartKind::opaque;
    out_.truncated |= !boundary.empty();
    return;
  }
  std::memcpy(boundaries_.data() + boundaries_used_, boundary.data(), boundary.size());
  open.boundary_offset = static_cast<std::uint16_t>(boundaries_used_);
  open.boundary_length = static_cast<std::uint8_t>(boundary.size());
  boundaries_used_ += boundary.size();
  open.phase = Phase::preamble;
}

void Parser::begin_message(Open& open) {
  if (open_count_ == open_.size() || out_.count == Structure::max_parts) {
    out_.parts[open.part].kind = PartKind::opaque;
    out_.truncated = true;
    return;
  }
  begin_part(offset_, open.part, false);
}

void Parser::begin_part(std::uint32_t header_offset, std::uint8_t parent, bool in_digest) {
  if (out_.count == Structure::max_parts) {
    out_.truncated = true;  // its bytes stay in the parent's body, undescribed
    return;
  }
  PIGEON_ASSERT(open_count_ < open_.size());
  Part& part = out_.parts[out_.count];
  part.header_offset = header_offset;
  part.body_offset = header_offset;
  part.body_end = header_offset;
  part.parent = parent;
  part.in_digest = in_digest;
  part.kind = in_digest ? PartKind::message : PartKind::text;
  open_[open_count_++] = Open{out_.count, Phase::header};
  ++out_.count;
  content_type_seen_ = false;
  content_type_length_ = 0;
  field_ = Field::other;
}

// Ends the open parts deeper than `depth` at `end`, before which
// `lines_before_end` line breaks came.
void Parser::close_to(std::size_t depth, std::uint32_t end, std::uint32_t lines_before_end) {
  while (open_count_ > depth) {
    Open& open = top();
    Part& part = out_.parts[open.part];
    if (open.phase == Phase::header) {
      // A header without its blank line: all of it is header, the body is empty.
      part.body_offset = std::max(part.header_offset, end);
      if (part.kind == PartKind::message) part.kind = PartKind::opaque;  // a digest's child: no embedded message
    }
    part.body_end = std::max(part.body_offset, end);
    part.body_lines = part.body_end == part.body_offset || lines_before_end < open.lines_before_body
                          ? 0
                          : lines_before_end - open.lines_before_body;
    if (open.boundary_length > 0) boundaries_used_ = open.boundary_offset;
    // A header's blank line right before a boundary is also the boundary's
    // line break: the part keeps it, and the parts around it end after it.
    if (part.body_end > end) {
      end = part.body_end;
      lines_before_end = open.lines_before_body + part.body_lines;
    }
    --open_count_;
  }
}

}  // namespace pigeon::protocol::mime
