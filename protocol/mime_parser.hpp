// The MIME structure of a message (RFC 2045, RFC 2046), found by one streaming
// pass over its bytes: where each part's header and body lie, how many lines
// its body has, and how the parts nest. Sans-I/O and without heap: the parser
// is fed the message in pieces of any size (the same structure for any split)
// and writes a fixed table, so that IMAP can describe a message (BODYSTRUCTURE)
// and serve its parts by offset without ever holding it. The fields a client
// is told about (Content-Type's parameters, Content-ID, ...) are not kept: the
// writer reads them again from each part's header, which the table locates.
//
// Limits (a message beyond them gets a structure that is still valid and
// marked `truncated`; the message's bytes are never lost, only undescribed):
//  - max_parts parts: further parts are not described; their bytes remain in
//    their enclosing multipart's body.
//  - max_depth levels of multipart and message/rfc822 nesting: a deeper
//    multipart or message is described as one opaque part.
//  - boundaries of at most 70 bytes (RFC 2046 §5.1.1), max_boundary_stack_bytes
//    for those open at once: a multipart with a longer or unfitting boundary is
//    an opaque part.
//  - Content-Type values are read up to max_content_type_bytes; a boundary
//    parameter beyond that is not seen (the multipart is then opaque).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace pigeon::protocol::mime {

enum class PartKind : std::uint8_t {
  basic,      // any single part that is not text/*
  text,       // text/*: its lines are counted for BODYSTRUCTURE
  multipart,  // children follow it in the table
  message,    // message/rfc822: its one child is the embedded message
  opaque,     // a multipart or message the limits kept the parser out of
};

inline constexpr std::uint8_t no_parent = 0xFF;

// One part; offsets are from the message's first byte. A part's header is
// [header_offset, body_offset) (its blank line included), its body
// [body_offset, body_end) (the line break before a boundary belongs to the
// boundary, RFC 2046 §5.1.1).
struct Part {
  std::uint32_t header_offset = 0;
  std::uint32_t body_offset = 0;
  std::uint32_t body_end = 0;
  std::uint32_t body_lines = 0;       // line breaks (LF) in the body, as Dovecot counts its lines
  std::uint8_t parent = no_parent;    // index in the table; the message itself has none
  PartKind kind = PartKind::text;
  bool in_digest = false;             // a child of multipart/digest: message/rfc822 by default
  bool has_content_type = false;      // false: the default type applies (RFC 2045 §5.2)

  std::uint32_t body_bytes() const { return body_end - body_offset; }
  bool operator==(const Part&) const = default;
};

// Parts in the order they begin in the message (a part before the parts
// inside it). The message itself is part 0.
struct Structure {
  static constexpr std::size_t max_parts = 32;

  std::array<Part, max_parts> parts{};
  std::uint8_t count = 0;
  bool truncated = false;  // a limit was reached (see above)

  // The first child of `part` and the child after `part`, if any.
  std::optional<std::uint8_t> first_child(std::uint8_t part) const;
  std::optional<std::uint8_t> next_sibling(std::uint8_t part) const;
  // The part an IMAP section's part number ("1.2.3", RFC 9051 §6.4.5) names,
  // or nullopt when the message has no such part.
  std::optional<std::uint8_t> find(std::string_view part_number) const;

  bool operator==(const Structure&) const = default;
};

// Reads a MIME field value: tokens, "/" and ";" separators and parameters
// (RFC 2045 §5.1 Content-Type, RFC 2183 Content-Disposition), with white
// space and comments skipped. RFC 2231 parameters ("name*0*=...") come out
// with their names and values as written.
class ValueReader {
 public:
  struct Parameter {
    std::string_view name;
    std::string_view value;  // a quoted string's content, its escapes kept
    bool quoted = false;
  };

  explicit ValueReader(std::string_view value) : text_(value) {}

  // A token (RFC 2045 §5.1); empty when none is next.
  std::string_view token();
  // Consumes `c` when it is next.
  bool take(char c);
  // "; attribute=value"; nullopt at the end or at something unreadable.
  std::optional<Parameter> next_parameter();

 private:
  void skip_space_and_comments();
  std::optional<std::string_view> quoted_content();

  std::string_view text_;
};

// What a Content-Type value says, as far as the structure depends on it.
struct ContentType {
  std::string_view type;      // empty when the value is not "type/subtype"
  std::string_view subtype;
  std::string_view boundary;  // the boundary parameter, unquoted (into the caller's buffer)
};
// Parses "type/subtype; name=value; ..." (RFC 2045 §5.1); `buffer` receives
// an unquoted boundary.
ContentType parse_content_type(std::string_view value, std::span<char> buffer);

class Parser {
 public:
  static constexpr std::size_t max_depth = 8;
  static constexpr std::size_t max_boundary_bytes = 70;
  static constexpr std::size_t max_boundary_stack_bytes = 4 * max_boundary_bytes;
  static constexpr std::size_t max_content_type_bytes = 256;

  // Writes into `out`, which it clears; `out` must outlive the parser.
  explicit Parser(Structure& out);

  // The message's next bytes, in any pieces.
  void feed(std::span<const std::uint8_t> bytes);
  // The message ended: every open part ends here.
  void finish();

 private:
  enum class Phase : std::uint8_t {
    header,    // the part's header is being read
    body,      // a leaf's body, or a message's embedded message
    preamble,  // a multipart before its first boundary
    children,  // a multipart between its boundaries
    epilogue,  // a multipart after its close delimiter
  };
  // A part being read, from the message down to the innermost.
  struct Open {
    std::uint8_t part = 0;
    Phase phase = Phase::header;
    std::uint16_t boundary_offset = 0;  // in boundaries_, for a multipart
    std::uint8_t boundary_length = 0;   // 0: no boundary (not a multipart)
    bool digest = false;                // multipart/digest: children default to message/rfc822
    std::uint32_t lines_before_body = 0;
  };
  // The start of a line is kept for boundary matching: "--", the boundary,
  // "--", and a little transport padding.
  static constexpr std::size_t line_prefix_bytes = 2 + max_boundary_bytes + 2 + 4;

  void take(std::uint8_t byte);
  void header_byte(char c);
  void line_end();
  bool match_boundary(std::uint32_t content_bytes, std::uint32_t breaks_before_line);
  void end_header();
  void begin_part(std::uint32_t header_offset, std::uint8_t parent, bool in_digest);
  void begin_multipart(Open& open, std::string_view boundary);
  void begin_message(Open& open);
  void close_to(std::size_t depth, std::uint32_t end, std::uint32_t lines_before_end);
  Open& top() { return open_[open_count_ - 1]; }

  Structure& out_;
  std::uint32_t offset_ = 0;            // of the next byte
  std::uint32_t line_breaks_ = 0;       // LFs so far
  std::uint32_t line_start_ = 0;        // where the current line began
  std::uint32_t line_bytes_ = 0;        // bytes of it so far
  std::uint8_t previous_break_bytes_ = 0;    // 2 for CRLF, 1 for LF, 0 at the start
  bool last_was_cr_ = false;
  bool line_tail_blank_ = true;         // bytes past the kept prefix are spaces, tabs or CR
  std::array<char, line_prefix_bytes> line_{};

  std::array<Open, max_depth + 1> open_{};
  std::size_t open_count_ = 0;
  std::array<char, max_boundary_stack_bytes> boundaries_{};
  std::size_t boundaries_used_ = 0;

  // The header being read: the field name, and Content-Type's value.
  enum class Field : std::uint8_t { name, content_type, other };
  static constexpr std::size_t max_name_bytes = 16;
  Field field_ = Field::other;
  std::array<char, max_name_bytes> name_{};
  std::size_t name_length_ = 0;
  std::array<char, max_content_type_bytes> content_type_{};
  std::size_t content_type_length_ = 0;
  bool content_type_seen_ = false;
};

}  // namespace pigeon::protocol::mime
