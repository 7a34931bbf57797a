// Fuzzes the spool's on-flash codecs (firmware/spool_format.hpp) with any
// bytes, as a reader of a damaged or foreign image would meet them:
// - decode never reads outside its span (libFuzzer's buffer is exactly the
//   input, and AddressSanitizer watches its end);
// - what decodes encodes back to the very same bytes, and decodes again to the
//   same value (decode(encode(x)) == x);
// - a structure built from the input's bytes as field values survives
//   encode then decode unchanged.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "firmware/spool_format.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

namespace format = spool_format;

// Decodes `in`; when that succeeds, the re-encoding must be byte-identical and
// decode to the same value.
template <class Structure>
void round_trip(std::span<const std::uint8_t> in) {
  const std::optional<Structure> decoded = Structure::decode(in);
  if (!decoded) return;
  std::vector<std::uint8_t> out(in.size() + 8, 0xA5);
  const std::size_t length = decoded->encode(out);
  require(length <= in.size());
  require(std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(length), in.begin()));
  require(std::all_of(out.begin() + static_cast<std::ptrdiff_t>(length), out.end(),
                      [](std::uint8_t b) { return b == 0xA5; }));  // no byte past its length
  const std::optional<Structure> again = Structure::decode({out.data(), length});
  require(again && *again == *decoded);
}

// Fixed-size structures are decoded from the input's first bytes, cut to
// their size, and from the whole input (which they must refuse or read only
// the start of).
template <class Structure>
void fixed_round_trip(std::span<const std::uint8_t> in) {
  round_trip<Structure>(in.first(std::min(in.size(), Structure::bytes)));
  const auto whole = Structure::decode(in);
  const auto cut = Structure::decode(in.first(std::min(in.size(), Structure::bytes)));
  require(!whole || (cut && *cut == *whole));
}

// Field values from the input, little-endian, 0 past its end.
class Fields {
 public:
  explicit Fields(std::span<const std::uint8_t> in) : in_(in) {}
  std::uint32_t u32() { return u16() | std::uint32_t{u16()} << 16; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | u8() << 8); }
  std::uint8_t u8() { return at_ < in_.size() ? in_[at_++] : 0; }
  // A recipient mask of 1..max_mask_bytes bytes, in `storage`.
  std::span<const std::uint8_t> mask(std::array<std::uint8_t, format::max_mask_bytes>& storage) {
    const std::size_t length = 1 + u8() % storage.size();
    for (std::size_t i = 0; i < length; ++i) storage[i] = u8();
    return std::span(storage).first(length);
  }
  std::string_view text(std::size_t most) {
    const std::size_t length = std::min<std::size_t>(u8() % (most + 1), in_.size() - std::min(at_, in_.size()));
    const std::string_view out(reinterpret_cast<const char*>(in_.data()) + std::min(at_, in_.size()), length);
    at_ += length;
    return out;
  }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t at_ = 0;
};

template <class Structure>
void encode_decode(const Structure& value) {
  std::vector<std::uint8_t> out(4096);
  const std::size_t length = value.encode(out);
  const auto decoded = Structure::decode({out.data(), length});
  require(decoded && *decoded == value);
}

// A valid §3.7 state byte: any flags, one of the five folders.
std::uint8_t state_from(Fields& fields) {
  const auto flags = static_cast<std::uint8_t>(fields.u8() & format::MailboxState::flag_bits);
  return format::MailboxState{flags, static_cast<std::uint8_t>(fields.u8() % format::MailboxState::folders)}.encode();
}

void built_from_fields(std::span<const std::uint8_t> in) {
  Fields fields(in);
  format::SectorHeader header{fields.u32(), fields.u32(), fields.u32(), fields.u32(), fields.u32(), fields.u16()};
  header.version = static_cast<std::uint16_t>(format::oldest_readable_version + fields.u8() % 3);
  // §2.1: a non-zero UIDVALIDITY in version 7, the constant 1 before.
  header.uid_validity = header.version == format::format_version ? std::max<std::uint32_t>(1, fields.u32())
                                                                 : format::unversioned_uid_validity;
  encode_decode(header);
  encode_decode(format::EraseIntent{fields.u32(), fields.u32()});
  encode_decode(format::RecordHeader{static_cast<format::RecordType>(1 + fields.u8() % 7), fields.u8(), fields.u16(),
                                     fields.u32(), fields.u32()});
  encode_decode(format::Commit{fields.u32(), fields.u32(), fields.u32(), fields.u32(), fields.u32(), fields.u16(),
                               fields.u8(), fields.u8()});
  std::array<std::uint8_t, format::max_mask_bytes> mask{};
  const auto outcome = static_cast<std::uint8_t>(1 + fields.u8() % 3);
  const std::uint8_t reserved = fields.u8();
  encode_decode(format::Outcome{outcome, reserved, fields.mask(mask)});
  const std::uint16_t attempts = fields.u16(), reply_code = fields.u16();
  const std::uint32_t next_retry_s = fields.u32();
  encode_decode(format::Attempt{attempts, reply_code, next_retry_s, fields.mask(mask),
                                fields.text(format::Attempt::max_enhanced_bytes),
                                fields.text(format::Attempt::max_text_bytes)});
  // An envelope: the fixed part, then 1..PIGEON_MAX_RECIPIENTS entries built one by one.
  std::vector<std::uint8_t> list(PIGEON_MAX_RECIPIENTS * (3 + 2 * 255));
  std::size_t list_bytes = 0;
  const std::uint8_t count = static_cast<std::uint8_t>(1 + fields.u8() % PIGEON_MAX_RECIPIENTS);
  for (std::uint8_t r = 0; r < count; ++r) {
    const format::EnvelopeRecipient recipient{fields.text(255), fields.text(255)};
    list_bytes += recipient.encode(std::span(list).subspan(list_bytes));
  }
  format::Envelope envelope;
  envelope.flags = static_cast<std::uint8_t>(fields.u8() & ~format::Envelope::flag_streamed);
  envelope.recipient_count = count;
  for (std::size_t b = 0; b < format::RecipientOutcomes::encoded_bytes(count); ++b) envelope.outcomes.bytes[b] = fields.u8();
  envelope.arrived_s = fields.u32();
  envelope.attempts = fields.u16();
  envelope.mailbox_state = state_from(fields);
  envelope.reserved = fields.u8();
  envelope.next_retry_s = fields.u32();
  envelope.sender = fields.text(255);
  envelope.recipient_list = std::span(list).first(list_bytes);
  std::vector<std::uint8_t> out(envelope.encoded_bytes());
  require(envelope.encode(out) == out.size());
  const auto decoded = format::Envelope::decode(out);
  require(decoded && *decoded == envelope);
  std::uint8_t seen = 0;
  decoded->for_each_recipient([&](std::uint8_t r, const format::EnvelopeRecipient&) { require(r == seen++); });
  require(seen == count);
  // A streamed envelope (§3.1 flag bit 1): the fixed part and the sender only,
  // and its recipients as records (§3.6).
  format::Envelope streamed = envelope;
  streamed.flags |= format::Envelope::flag_streamed;
  streamed.recipient_count = 0;
  streamed.outcomes = {};
  streamed.recipient_list = {};
  std::vector<std::uint8_t> streamed_out(streamed.encoded_bytes());
  require(streamed.encode(streamed_out) == streamed_out.size());
  const auto streamed_decoded = format::Envelope::decode(streamed_out);
  require(streamed_decoded && *streamed_decoded == streamed && streamed_decoded->streamed());
  encode_decode(format::RecipientRecord{fields.u8(), fields.u8(), {fields.text(255), fields.text(255)}});
  // A mailbox state record (§3.7): recipients in ascending order, each with a valid state.
  std::array<std::uint8_t, 2 * PIGEON_MAX_RECIPIENTS> pairs{};
  std::size_t pair_bytes = 0;
  for (std::uint32_t r = fields.u8() % 4; r < PIGEON_MAX_RECIPIENTS && fields.u8() % 8 != 0; r += 1 + fields.u8() % 4) {
    pairs[pair_bytes++] = static_cast<std::uint8_t>(r);
    pairs[pair_bytes++] = state_from(fields);
  }
  encode_decode(format::MailboxStates{static_cast<std::uint8_t>(pair_bytes / 2), fields.u8(),
                                      std::span(pairs).first(pair_bytes)});
}

}  // namespace
}  // namespace pigeon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pigeon::fuzz;
  const std::span<const std::uint8_t> in(data, size);
  fixed_round_trip<format::SectorHeader>(in);
  fixed_round_trip<format::EraseIntent>(in);
  fixed_round_trip<format::RecordHeader>(in);
  fixed_round_trip<format::Commit>(in);
  round_trip<format::Outcome>(in);
  round_trip<format::Envelope>(in);
  round_trip<format::Attempt>(in);
  round_trip<format::EnvelopeRecipient>(in);
  round_trip<format::RecipientRecord>(in);
  round_trip<format::MailboxStates>(in);
  built_from_fields(in);
  return 0;
}
