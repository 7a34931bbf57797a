#include "mime_decoder.hpp"

#include "ascii.hpp"

namespace pigeon::protocol::mime {
namespace {

// A base64 letter's value (RFC 2045 §6.8 Table 1); -1 for any other byte.
int base64_value(std::uint8_t byte) {
  if (byte >= 'A' && byte <= 'Z') return byte - 'A';
  if (byte >= 'a' && byte <= 'z') return byte - 'a' + 26;
  if (byte >= '0' && byte <= '9') return byte - '0' + 52;
  if (byte == '+') return 62;
  if (byte == '/') return 63;
  return -1;
}

// A hex digit's value, either case (RFC 2045 §6.7 asks for upper case;
// robust decoders take both); -1 for any other byte.
int hex_value(std::uint8_t byte) {
  if (byte >= '0' && byte <= '9') return byte - '0';
  if (byte >= 'A' && byte <= 'F') return byte - 'A' + 10;
  if (byte >= 'a' && byte <= 'f') return byte - 'a' + 10;
  return -1;
}

}  // namespace

std::optional<Encoding> encoding_named(std::string_view value) {
  if (value.empty() || ascii::iequals(value, "7bit") || ascii::iequals(value, "8bit") ||
      ascii::iequals(value, "binary")) {
    return Encoding::identity;
  }
  if (ascii::iequals(value, "base64")) return Encoding::base64;
  if (ascii::iequals(value, "quoted-printable")) return Encoding::quoted_printable;
  return std::nullopt;
}

void TransferDecoder::feed(std::span<const std::uint8_t> bytes, imap::ByteSink& sink) {
  switch (encoding_) {
    case Encoding::identity: sink.put(bytes); return;
    case Encoding::base64:
      for (const std::uint8_t byte : bytes) base64_byte(byte, sink);
      return;
    case Encoding::quoted_printable:
      for (const std::uint8_t byte : bytes) quoted_printable_byte(byte, sink);
      return;
  }
}

void TransferDecoder::finish(imap::ByteSink& sink) {
  if (encoding_ == Encoding::base64) {
    // Text cut short of its padding: the whole bytes its letters hold.
    base64_byte('=', sink);
    return;
  }
  if (encoding_ != Encoding::quoted_printable) return;
  flush_space(sink);
  // An escape the text ended in the middle of is kept as written.
  if (escape_ != Escape::none) put('=', sink);
  if (escape_ == Escape::hex) put(first_hex_, sink);
  if (escape_ == Escape::soft_cr) put('\r', sink);
  escape_ = Escape::none;
}

void TransferDecoder::base64_byte(std::uint8_t byte, imap::ByteSink& sink) {
  if (padded_) return;
  if (byte == '=') {
    // 2 letters hold one byte, 3 hold two (RFC 2045 §6.8).
    padded_ = true;
    if (sextets_ >= 2) put(static_cast<std::uint8_t>(bits_ >> (6 * sextets_ - 8)), sink);
    if (sextets_ == 3) put(static_cast<std::uint8_t>(bits_ >> 2), sink);
    return;
  }
  const int value = base64_value(byte);
  if (value < 0) return;  // line breaks and anything else outside the alphabet are ignored
  bits_ = (bits_ << 6) | static_cast<std::uint32_t>(value);
  if (++sextets_ < 4) return;
  const std::uint8_t group[3] = {static_cast<std::uint8_t>(bits_ >> 16), static_cast<std::uint8_t>(bits_ >> 8),
                                 static_cast<std::uint8_t>(bits_)};
  sink.put(group);
  bits_ = 0;
  sextets_ = 0;
}

void TransferDecoder::quoted_printable_byte(std::uint8_t byte, imap::ByteSink& sink) {
  switch (escape_) {
    case Escape::equals:
      if (hex_value(byte) >= 0) {
        escape_ = Escape::hex;
        first_hex_ = byte;
        return;
      }
      if (byte == '\r') {
        escape_ = Escape::soft_cr;
        return;
      }
      escape_ = Escape::none;
      if (byte == '\n') return;  // a soft line break
      put('=', sink);  // not an escape: kept as written
      break;
    case Escape::hex:
      escape_ = Escape::none;
      if (hex_value(byte) >= 0) {
        put(static_cast<std::uint8_t>(hex_value(first_hex_) * 16 + hex_value(byte)), sink);
        return;
      }
      put('=', sink);
      put(first_hex_, sink);
      break;
    case Escape::soft_cr:
      escape_ = Escape::none;
      if (byte == '\n') return;  // a soft line break
      put('=', sink);
      put('\r', sink);
      break;
    case Escape::none: break;
  }
  if (byte == '\n') {
    // White space before a line break was added in transport: dropped; a CR
    // held before the LF stays with it.
    const bool carriage_return = space_length_ > 0 && space_[space_length_ - 1] == '\r';
    space_length_ = 0;
    if (carriage_return) put('\r', sink);
    put('\n', sink);
    return;
  }
  if (byte == ' ' || byte == '\t' || byte == '\r') {
    // White space after a held CR is not before a line break: out with what is held.
    if (space_length_ == space_.size() || (space_length_ > 0 && space_[space_length_ - 1] == '\r')) flush_space(sink);
    space_[space_length_++] = byte;
    return;
  }
  flush_space(sink);
  if (byte == '=') {
    escape_ = Escape::equals;
    return;
  }
  put(byte, sink);
}

void TransferDecoder::flush_space(imap::ByteSink& sink) {
  sink.put({space_.data(), space_length_});
  space_length_ = 0;
}

}  // namespace pigeon::protocol::mime
