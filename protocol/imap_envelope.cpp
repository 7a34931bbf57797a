#include "imap_envelope.hpp"

#include <algorithm>

#include "ascii.hpp"

namespace pigeon::protocol::imap {
namespace {

// A quoted string holds printable ASCII only (RFC 3501 §9 QUOTED-CHAR).
bool quotable(std::string_view text) {
  for (const char c : text) {
    if (ascii::is_control(c) || ascii::is_non_ascii(c)) return false;
  }
  return true;
}

// The parts of one address as RFC 3501 §7.4.2 lists them.
struct Address {
  std::string_view name;     // display name, or a comment's text
  std::string_view mailbox;  // local part
  std::string_view host;     // domain; empty when the address had none
  bool group = false;        // a group's start: the group's name as mailbox, host NIL
};

// `text` without its RFC 5322 comments (parenthesised, nested), into `out`;
// the first comment's text is kept in `comment`.
std::string_view without_comments(std::string_view text, std::span<char> out, std::string_view& comment) {
  std::size_t length = 0;
  int depth = 0;
  bool quoted = false;
  std::size_t comment_start = 0;
  for (std::size_t i = 0; i < text.size() && length < out.size(); ++i) {
    const char c = text[i];
    if (!quoted && c == '(') {
      if (depth++ == 0) comment_start = i + 1;
      continue;
    }
    if (!quoted && c == ')' && depth > 0) {
      if (--depth == 0 && comment.empty()) comment = ascii::trim(text.substr(comment_start, i - comment_start));
      continue;
    }
    if (depth > 0) continue;
    if (c == '"') quoted = !quoted;
    out[length++] = c;
  }
  return {out.data(), length};
}

// A display name without its quotes and backslashes, into `out`.
std::string_view plain_name(std::string_view name, std::span<char> out) {
  name = ascii::trim(name);
  std::size_t length = 0;
  for (std::size_t i = 0; i < name.size() && length < out.size(); ++i) {
    if (name[i] == '"') continue;
    if (name[i] == '\\' && i + 1 < name.size()) ++i;
    out[length++] = name[i];
  }
  return {out.data(), length};
}

void write_address(TextBuilder& out, const Address& address) {
  out.character('(');
  write_nstring(out, address.name, !address.name.empty());
  out.text(" NIL ");
  write_nstring(out, address.mailbox);
  out.character(' ');
  write_nstring(out, address.host, !address.group);
  out.character(')');
}

// Writes one address parsed from `text` ("Name <local@host>", "local@host
// (Name)"); nothing when it holds no address.
void write_one(TextBuilder& out, std::string_view text) {
  std::array<char, FieldValue::max_value_bytes> bare{};
  std::string_view comment;
  const std::string_view address_text = ascii::trim(without_comments(text, bare, comment));
  if (address_text.empty()) return;
  Address address;
  std::array<char, FieldValue::max_value_bytes> name{};
  std::string_view spec = address_text;
  const std::size_t open = address_text.find('<');
  if (open != std::string_view::npos) {
    const std::size_t close = address_text.find('>', open);
    spec = address_text.substr(open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1);
    address.name = plain_name(address_text.substr(0, open), name);
    // A source route "@a,@b:" before the address is not kept (RFC 5322 §4.4).
    const std::size_t route_end = spec.find(':');
    if (!spec.empty() && spec.front() == '@' && route_end != std::string_view::npos) spec = spec.substr(route_end + 1);
  }
  if (address.name.empty()) address.name = comment;
  spec = ascii::trim(spec);
  const std::size_t at = spec.rfind('@');
  address.mailbox = spec.substr(0, at);
  address.host = at == std::string_view::npos ? std::string_view{} : spec.substr(at + 1);
  write_address(out, address);
}

// Where an address list's element ends: a ',' or ';' outside quotes, angle
// brackets and comments; a ':' outside them ends a group's name.
std::size_t element_end(std::string_view text, char& separator) {
  bool quoted = false;
  int comment_depth = 0;
  bool angle = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && quoted) {
      ++i;
    } else if (c == '"' && comment_depth == 0) {
      quoted = !quoted;
    } else if (!quoted && c == '(') {
      ++comment_depth;
    } else if (!quoted && c == ')' && comment_depth > 0) {
      --comment_depth;
    } else if (!quoted && comment_depth == 0 && (c == '<' || c == '>')) {
      angle = c == '<';
    } else if (!quoted && comment_depth == 0 && !angle && (c == ',' || c == ';' || c == ':')) {
      separator = c;
      return i;
    }
  }
  separator = '\0';
  return text.size();
}

// Appends what `piece` wrote when it fits whole in `out`.
template <class Write>
bool append_whole(TextBuilder& out, Write write) {
  std::array<char, 3 * FieldValue::max_value_bytes + 64> buffer{};
  TextBuilder piece(buffer);
  write(piece);
  if (!piece.ok() || piece.view().empty() || piece.view().size() + 1 > out.room()) return false;
  out.text(piece.view());
  return true;
}

}  // namespace

void FieldValue::put(std::span<const std::uint8_t> bytes) {
  for (const std::uint8_t byte : bytes) {
    const char c = static_cast<char>(byte);
    switch (state_) {
      case State::before_colon:
        if (c == ':') state_ = State::value;
        break;
      case State::line_end:
        // A line that begins with a space or tab continues the field.
        if (c != ' ' && c != '\t') {
          state_ = State::done;
          break;
        }
        state_ = State::value;
        [[fallthrough]];
      case State::value:
        if (c == '\n') {
          state_ = State::line_end;
        } else if (c != '\r' && c != '\0' && length_ < value_.size() && (length_ > 0 || (c != ' ' && c != '\t'))) {
          value_[length_++] = c;
        }
        break;
      case State::done: break;
    }
  }
}

std::string_view FieldValue::value() const { return ascii::trim({value_.data(), length_}); }

void write_nstring(TextBuilder& out, std::string_view text, bool present) {
  if (!present) {
    out.text("NIL");
    return;
  }
  if (!quotable(text)) {
    out.character('{').number(static_cast<std::int64_t>(text.size())).text("}\r\n").text(text);
    return;
  }
  out.character('"');
  for (const char c : text) {
    if (c == '"' || c == '\\') out.character('\\');
    out.character(c);
  }
  out.character('"');
}

void write_address_list(TextBuilder& out, std::string_view value) {
  std::array<char, 3 * FieldValue::max_value_bytes + 64> buffer{};
  // Room for the parentheses around the list in `out`.
  const std::size_t room = std::min(buffer.size(), out.room() < 2 ? 0 : out.room() - 2);
  TextBuilder list(std::span<char>(buffer.data(), room));
  bool any = false;
  while (!value.empty()) {
    char separator = '\0';
    const std::size_t end = element_end(value, separator);
    const std::string_view element = value.substr(0, end);
    value = end < value.size() ? value.substr(end + 1) : std::string_view{};
    bool wrote = false;
    if (separator == ':') {
      // A group's start: its name as the mailbox, no host (RFC 3501 §7.4.2).
      std::array<char, FieldValue::max_value_bytes> name{};
      const std::string_view group = plain_name(element, name);
      wrote = append_whole(list, [&](TextBuilder& piece) { write_address(piece, {{}, group, {}, true}); });
    } else {
      wrote = append_whole(list, [&](TextBuilder& piece) { write_one(piece, element); });
    }
    if (separator == ';') wrote |= append_whole(list, [](TextBuilder& piece) { piece.text("(NIL NIL NIL NIL)"); });
    any |= wrote;
  }
  if (!any || !list.ok()) {
    out.text("NIL");
    return;
  }
  out.character('(').text(list.view()).character(')');
}

bool write_envelope_field(TextBuilder& out, std::size_t field, HeaderFields& fields, HeaderRange header) {
  FieldValue value;
  if (!fields.read(header, envelope_fields[field], value)) return false;
  // Sender and Reply-To are From's when the message has none.
  const bool sender_or_reply_to = field == 3 || field == 4;
  if (!value.present() && sender_or_reply_to && !fields.read(header, envelope_fields[2], value)) return false;
  if (!value.present()) {
    out.text("NIL");
  } else if (envelope_field_is_address(field)) {
    write_address_list(out, value.value());
  } else {
    write_nstring(out, value.value());
  }
  return true;
}

}  // namespace pigeon::protocol::imap
