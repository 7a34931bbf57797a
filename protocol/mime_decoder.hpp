// Undoes a Content-Transfer-Encoding (RFC 2045 §6) as the bytes stream past,
// for IMAP's BINARY (RFC 3516): base64 and quoted-printable are decoded, the
// identity encodings (7bit, 8bit, binary) pass through. The same output for
// any split of the input; no heap; at most held_bytes are kept between pieces.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "imap_header_filter.hpp"

namespace pigeon::protocol::mime {

enum class Encoding : std::uint8_t { identity, base64, quoted_printable };

// The encoding a Content-Transfer-Encoding value names; none when the value
// is one this decoder does not know (IMAP answers NO [UNKNOWN-CTE]). An empty
// value is 7bit (RFC 2045 §6.1).
std::optional<Encoding> encoding_named(std::string_view value);

class TransferDecoder {
 public:
  // White space at the end of a quoted-printable line is held until it is
  // known whether the line ends (then it is dropped, RFC 2045 §6.7 rule 3);
  // a longer run than this is let through.
  static constexpr std::size_t held_bytes = 64;

  explicit TransferDecoder(Encoding encoding) : encoding_(encoding) {}

  // Decodes `bytes` into `sink`: at most bytes.size() + held_bytes bytes.
  void feed(std::span<const std::uint8_t> bytes, imap::ByteSink& sink);
  // The encoded text ended: what is still held goes out.
  void finish(imap::ByteSink& sink);

 private:
  void base64_byte(std::uint8_t byte, imap::ByteSink& sink);
  void quoted_printable_byte(std::uint8_t byte, imap::ByteSink& sink);
  void flush_space(imap::ByteSink& sink);
  void put(std::uint8_t byte, imap::ByteSink& sink) { sink.put({&byte, 1}); }

  Encoding encoding_;
  // base64: the bits of the group being read, and how many sextets it has.
  std::uint32_t bits_ = 0;
  std::uint8_t sextets_ = 0;
  bool padded_ = false;  // '=' was seen: the text has ended
  // quoted-printable: after '=' (with its first hex digit, or a CR), and
  // the white space held at what may be the end of a line.
  enum class Escape : std::uint8_t { none, equals, hex, soft_cr };
  Escape escape_ = Escape::none;
  std::uint8_t first_hex_ = 0;
  std::array<std::uint8_t, held_bytes> space_{};
  std::size_t space_length_ = 0;
};

}  // namespace pigeon::protocol::mime
