// FETCH ENVELOPE (RFC 3501 §7.4.2) from header fields read one at a time: the
// collector takes one field's value out of what HeaderFilter passes, and the
// writers turn values into IMAP strings and address lists. A value is cut at
// max_value_bytes, so an envelope field's reply is bounded whatever the
// message holds.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "imap_header_filter.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol::imap {

// Collects the first field HeaderFilter passes (its value, unfolded, without
// its name and the spaces around it) and ignores the rest.
class FieldValue final : public ByteSink {
 public:
  static constexpr std::size_t max_value_bytes = 160;

  void put(std::span<const std::uint8_t> bytes) override;
  bool present() const { return state_ != State::before_colon; }
  std::string_view value() const;

 private:
  enum class State : std::uint8_t { before_colon, value, line_end, done };

  State state_ = State::before_colon;
  std::array<char, max_value_bytes> value_{};
  std::size_t length_ = 0;
};

// The envelope's fields in their order; Sender and Reply-To fall back to From
// when the message has none (RFC 3501 §7.4.2).
inline constexpr std::array<std::string_view, 10> envelope_fields{
    "Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID"};
inline constexpr bool envelope_field_is_address(std::size_t index) { return index >= 2 && index <= 7; }

// Where a header lies in a stored message: the message's own, or a MIME
// part's, which ends where the part's body begins.
struct HeaderRange {
  std::uint32_t begin = 0;
  std::uint32_t end = UINT32_MAX;
};

// The fields of a header in a stored message, read one at a time (the engine
// passes the message through HeaderFilter).
class HeaderFields {
 public:
  // The first `name` field's value into `value` (absent when the header has
  // none); false when the message could not be read.
  virtual bool read(HeaderRange header, std::string_view name, FieldValue& value) = 0;

 protected:
  ~HeaderFields() = default;
};

// Envelope field `field` (its index in envelope_fields) of `header`, as NIL,
// a string or an address list; false when the message could not be read.
bool write_envelope_field(TextBuilder& out, std::size_t field, HeaderFields& fields, HeaderRange header);

// NIL, a quoted string, or a literal when `text` holds bytes a quoted string
// may not (RFC 3501 §4.3).
void write_nstring(TextBuilder& out, std::string_view text, bool present = true);
// An address list "((name adl mailbox host) ...)" parsed from a field value
// (RFC 5322 §3.4, groups as RFC 3501 §7.4.2 writes them), or NIL. Addresses
// that would not fit in `out` are left out, whole.
void write_address_list(TextBuilder& out, std::string_view value);

}  // namespace pigeon::protocol::imap
