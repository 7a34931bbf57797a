#include "imap_body_structure.hpp"

#include <array>

#include "ascii.hpp"
#include "imap_syntax.hpp"

namespace pigeon::protocol::imap {
namespace {

using mime::ValueReader;

// A part the parser could not look into, or a multipart in which it found no
// part: described as opaque bytes, since BODYSTRUCTURE has no form for either.
bool described_as_octets(const mime::Structure& structure, std::uint8_t part) {
  const mime::PartKind kind = structure.parts[part].kind;
  return kind == mime::PartKind::opaque ||
         (kind == mime::PartKind::multipart && !structure.first_child(part).has_value());
}

// "(name value ...)" from the parameters `reader` has left, or NIL; a text
// part without parameters gets its default charset (RFC 2045 §5.2).
void write_parameters(TextBuilder& out, ValueReader& reader, bool text) {
  bool any = false;
  while (const auto parameter = reader.next_parameter()) {
    std::array<char, FieldValue::max_value_bytes> unquoted{};
    out.text(any ? " " : "(");
    write_nstring(out, parameter->name);
    out.character(' ');
    write_nstring(out, parameter->quoted ? unquote(parameter->value, unquoted) : parameter->value);
    any = true;
  }
  if (any) {
    out.character(')');
  } else {
    out.text(text ? "(\"charset\" \"us-ascii\")" : "NIL");
  }
}

}  // namespace

BodyStructureWriter::BodyStructureWriter(const mime::Structure& structure, bool extensible)
    : structure_(structure), extensible_(extensible) {}

bool BodyStructureWriter::write_next(TextBuilder& out, HeaderFields& fields) {
  return done() || write_step(out, fields);
}

bool BodyStructureWriter::write_step(TextBuilder& out, HeaderFields& fields) {
  const mime::Part& part = structure_.parts[part_];
  const bool octets = described_as_octets(structure_, part_);
  switch (step_) {
    case Step::open:
      out.character('(');
      if (part.kind == mime::PartKind::multipart && !octets) {
        part_ = *structure_.first_child(part_);
      } else {
        step_ = Step::type;
      }
      return true;
    case Step::type: return write_type(out, fields);
    case Step::id:
      out.character(' ');
      step_ = Step::description;
      return write_field(out, fields, "Content-ID");
    case Step::description:
      out.character(' ');
      step_ = Step::encoding_size;
      return write_field(out, fields, "Content-Description");
    case Step::encoding_size: {
      FieldValue value;
      if (!fields.read(header(), "Content-Transfer-Encoding", value)) return false;
      ValueReader reader(value.value());
      const std::string_view encoding = reader.token();
      out.character(' ');
      write_nstring(out, encoding.empty() ? "7bit" : encoding);
      out.character(' ').number(part.body_bytes());
      if (part.kind == mime::PartKind::text) out.character(' ').number(part.body_lines);
      if (part.kind == mime::PartKind::message && !octets) {
        step_ = Step::envelope;
        envelope_field_ = 0;
      } else {
        step_ = extensible_ ? Step::md5 : Step::close;
      }
      return true;
    }
    case Step::envelope: {
      out.text(envelope_field_ == 0 ? " (" : " ");
      if (!write_envelope_field(out, envelope_field_, fields, header(*structure_.first_child(part_)))) return false;
      if (++envelope_field_ == envelope_fields.size()) {
        out.character(')');
        step_ = Step::embedded;
      }
      return true;
    }
    case Step::embedded:
      out.character(' ');
      part_ = *structure_.first_child(part_);
      step_ = Step::open;
      return true;
    case Step::message_lines:
      out.character(' ').number(part.body_lines);
      step_ = extensible_ ? Step::md5 : Step::close;
      return true;
    case Step::md5:
      out.character(' ');
      step_ = Step::disposition;
      return write_field(out, fields, "Content-MD5");
    case Step::disposition: return write_disposition(out, fields);
    case Step::language: return write_language(out, fields);
    case Step::location:
      out.character(' ');
      step_ = Step::close;
      return write_field(out, fields, "Content-Location");
    case Step::close:
      out.character(')');
      finish_part();
      return true;
    case Step::multipart_end: return write_multipart_end(out, fields);
    case Step::done: return true;
  }
  return true;
}

// "type" "subtype" (parameters) of a single part.
bool BodyStructureWriter::write_type(TextBuilder& out, HeaderFields& fields) {
  step_ = Step::id;
  const mime::Part& part = structure_.parts[part_];
  if (described_as_octets(structure_, part_)) {
    out.text("\"application\" \"octet-stream\" NIL");
    return true;
  }
  FieldValue value;
  if (part.has_content_type && !fields.read(header(), "Content-Type", value)) return false;
  ValueReader reader(value.value());
  const std::string_view type = reader.token();
  const std::string_view subtype = reader.take('/') ? reader.token() : std::string_view{};
  if (!part.has_content_type || type.empty() || subtype.empty()) {
    // RFC 2045 §5.2's default, or RFC 2046 §5.1.5's in a digest.
    out.text(part.kind == mime::PartKind::message ? "\"message\" \"rfc822\" NIL"
                                                  : "\"text\" \"plain\" (\"charset\" \"us-ascii\")");
    return true;
  }
  write_nstring(out, type);
  out.character(' ');
  write_nstring(out, subtype);
  out.character(' ');
  write_parameters(out, reader, part.kind == mime::PartKind::text);
  return true;
}

// A multipart's subtype after its children, and its parameters in BODYSTRUCTURE.
bool BodyStructureWriter::write_multipart_end(TextBuilder& out, HeaderFields& fields) {
  FieldValue value;
  if (!fields.read(header(), "Content-Type", value)) return false;
  ValueReader reader(value.value());
  reader.token();
  const std::string_view subtype = reader.take('/') ? reader.token() : std::string_view{};
  out.character(' ');
  write_nstring(out, subtype.empty() ? "mixed" : subtype);
  if (extensible_) {
    out.character(' ');
    write_parameters(out, reader, false);
  }
  step_ = extensible_ ? Step::disposition : Step::close;
  return true;
}

bool BodyStructureWriter::write_field(TextBuilder& out, HeaderFields& fields, std::string_view name) {
  FieldValue value;
  if (!fields.read(header(), name, value)) return false;
  write_nstring(out, value.value(), value.present());
  return true;
}

// ("type" (parameters)) of Content-Disposition (RFC 2183), or NIL.
bool BodyStructureWriter::write_disposition(TextBuilder& out, HeaderFields& fields) {
  step_ = Step::language;
  FieldValue value;
  if (!fields.read(header(), "Content-Disposition", value)) return false;
  ValueReader reader(value.value());
  const std::string_view type = reader.token();
  out.character(' ');
  if (type.empty()) {
    out.text("NIL");
    return true;
  }
  out.character('(');
  write_nstring(out, type);
  out.character(' ');
  write_parameters(out, reader, false);
  out.character(')');
  return true;
}

// ("tag" ...) of Content-Language (RFC 3282), or NIL.
bool BodyStructureWriter::write_language(TextBuilder& out, HeaderFields& fields) {
  step_ = Step::location;
  FieldValue value;
  if (!fields.read(header(), "Content-Language", value)) return false;
  out.character(' ');
  ValueReader reader(value.value());
  bool any = false;
  for (std::string_view tag = reader.token(); !tag.empty(); tag = reader.take(',') ? reader.token() : std::string_view{}) {
    out.text(any ? " " : "(");
    write_nstring(out, tag);
    any = true;
  }
  out.text(any ? ")" : "NIL");
  return true;
}

HeaderRange BodyStructureWriter::header(std::uint8_t part) const {
  return {structure_.parts[part].header_offset, structure_.parts[part].body_offset};
}

// After a part: its next sibling, or the end of what contains it.
void BodyStructureWriter::finish_part() {
  const std::uint8_t parent = structure_.parts[part_].parent;
  if (parent == mime::no_parent) {
    step_ = Step::done;
    return;
  }
  if (structure_.parts[parent].kind == mime::PartKind::message) {
    part_ = parent;
    step_ = Step::message_lines;
    return;
  }
  if (const auto sibling = structure_.next_sibling(part_)) {
    part_ = *sibling;
    step_ = Step::open;
    return;
  }
  part_ = parent;
  step_ = Step::multipart_end;
}

}  // namespace pigeon::protocol::imap
