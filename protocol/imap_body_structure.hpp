// FETCH BODYSTRUCTURE and BODY (RFC 3501 §7.4.2, RFC 9051 §7.5.2) written from
// a message's MIME structure (mime::Structure) a piece at a time, so that a
// reply of any length streams through a small output buffer. The values the
// reply carries (type, parameters, Content-ID, ...) are read again from each
// part's header through HeaderFields when they are written: the structure
// holds offsets only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "imap_envelope.hpp"
#include "mime_parser.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol::imap {

class BodyStructureWriter {
 public:
  // The most one write_next() writes: one field value (FieldValue's 160
  // bytes, escaped or as a literal), a parameter list made of one, or an
  // envelope field's address list.
  static constexpr std::size_t max_piece_bytes = 480;

  // `extensible`: BODYSTRUCTURE (with extension data); false: BODY.
  BodyStructureWriter(const mime::Structure& structure, bool extensible);

  // Writes the next piece into `out` (at least max_piece_bytes of room); false
  // when the message could not be read.
  bool write_next(TextBuilder& out, HeaderFields& fields);
  bool done() const { return step_ == Step::done; }

 private:
  enum class Step : std::uint8_t {
    open,           // "(" and, for a multipart, its first child
    type,           // a single part's type, subtype and parameters
    id,
    description,
    encoding_size,  // encoding, size, and a text part's lines
    envelope,       // message/rfc822: its envelope, a field at a time
    embedded,       // message/rfc822: the embedded message's structure
    message_lines,
    md5,            // extension data, BODYSTRUCTURE only
    disposition,
    language,
    location,
    close,          // ")" and on to what follows the part
    multipart_end,  // after a multipart's children: subtype, extension data, ")"
    done,
  };

  bool write_step(TextBuilder& out, HeaderFields& fields);
  bool write_type(TextBuilder& out, HeaderFields& fields);
  bool write_multipart_end(TextBuilder& out, HeaderFields& fields);
  bool write_field(TextBuilder& out, HeaderFields& fields, std::string_view name);
  bool write_disposition(TextBuilder& out, HeaderFields& fields);
  bool write_language(TextBuilder& out, HeaderFields& fields);
  void finish_part();
  // The header of the part being written (or of any part).
  HeaderRange header(std::uint8_t part) const;
  HeaderRange header() const { return header(part_); }

  const mime::Structure& structure_;
  bool extensible_;
  std::uint8_t part_ = 0;
  Step step_ = Step::open;
  std::uint8_t envelope_field_ = 0;
};

}  // namespace pigeon::protocol::imap
