#include "spool_format.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "crc32.hpp"
#include "protocol/assert.hpp"

namespace pigeon::spool_format {
namespace {

// Little-endian fields at the offsets of the tables; each encode() and
// decode() checks its span's length once, before the first field. On a
// little-endian machine a field is its bytes in memory, one (unaligned) load or
// store; elsewhere it is put together byte by byte.
template <class Field>
void put(std::uint8_t* out, Field value) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out, &value, sizeof value);
  } else {
    for (std::size_t i = 0; i < sizeof value; ++i) out[i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}
template <class Field>
Field get(const std::uint8_t* in) {
  Field value = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&value, in, sizeof value);
  } else {
    for (std::size_t i = 0; i < sizeof value; ++i) value = static_cast<Field>(value | Field{in[i]} << (8 * i));
  }
  return value;
}
void put_u16(std::uint8_t* out, std::uint16_t value) { put(out, value); }
void put_u32(std::uint8_t* out, std::uint32_t value) { put(out, value); }
std::uint16_t get_u16(const std::uint8_t* in) { return get<std::uint16_t>(in); }
std::uint32_t get_u32(const std::uint8_t* in) { return get<std::uint32_t>(in); }

// Text into the payload. memmove, not memcpy: an empty view may have a null
// pointer, and reclaim rewrites an envelope over the bytes it was decoded from.
std::uint8_t* put_bytes(std::uint8_t* out, std::span<const std::uint8_t> bytes) {
  if (!bytes.empty()) std::memmove(out, bytes.data(), bytes.size());
  return out + bytes.size();
}
std::uint8_t* put_text(std::uint8_t* out, std::string_view text) {
  return put_bytes(out, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}
std::string_view text_at(const std::uint8_t* in, std::size_t length) {
  return {reinterpret_cast<const char*>(in), length};
}

// The CRC that ends a header or an intent: of every byte before it.
void seal(std::uint8_t* out, std::size_t crc_offset) { put_u32(out + crc_offset, crc32({out, crc_offset})); }
bool sealed(const std::uint8_t* in, std::size_t crc_offset) { return get_u32(in + crc_offset) == crc32({in, crc_offset}); }

}  // namespace

bool erased(std::span<const std::uint8_t> bytes) {
  std::uint8_t all = 0xFF;
  for (const std::uint8_t byte : bytes) all &= byte;
  return all == 0xFF;
}

std::uint32_t uid_validity_at_format(std::int64_t unix_time_s, std::uint32_t random_bits) {
  if (unix_time_s >= uid_validity_clock_floor_s && unix_time_s <= std::int64_t{UINT32_MAX}) {
    return static_cast<std::uint32_t>(unix_time_s);
  }
  constexpr std::uint32_t lowest_random = unversioned_uid_validity + 1;
  return lowest_random + random_bits % (uid_validity_clock_floor_s - lowest_random);
}

// Versions 5 and 6 keep the header's length at 6 and the program unit at 28;
// version 7 has the unit at 6 and the UIDVALIDITY at 28 (docs/spool-format.md
// §2.1 says why).
std::size_t SectorHeader::encode(std::span<std::uint8_t> out) const {
  PIGEON_ASSERT(out.size() >= bytes);
  std::uint8_t* at = out.data();
  put_u32(at, sector_magic);
  const bool readable = version >= oldest_readable_version && version <= format_version;
  PIGEON_ASSERT(readable);
  put_u16(at + 4, version);
  put_u32(at + 8, sequence);
  put_u32(at + 12, erase_count);
  put_u32(at + 16, next_message_id);
  put_u32(at + 20, retired_sequence);
  put_u32(at + 24, sector_bytes);
  if (version == format_version) {
    PIGEON_ASSERT(uid_validity != 0);
    put_u16(at + 6, unit_bytes);
    put_u32(at + 28, uid_validity);
  } else {
    PIGEON_ASSERT(uid_validity == unversioned_uid_validity);
    put_u16(at + 6, bytes);
    put_u16(at + 28, unit_bytes);
    put_u16(at + 30, 0);
  }
  seal(at, 32);
  return bytes;
}

std::optional<SectorHeader> SectorHeader::decode(std::span<const std::uint8_t> in) {
  if (in.size() < bytes) return std::nullopt;
  const std::uint8_t* at = in.data();
  const std::uint16_t version = get_u16(at + 4);
  if (get_u32(at) != sector_magic || version < oldest_readable_version || version > format_version ||
      !sealed(at, 32)) {
    return std::nullopt;
  }
  SectorHeader header{get_u32(at + 8),  get_u32(at + 12), get_u32(at + 16), get_u32(at + 20),
                      get_u32(at + 24), 0, unversioned_uid_validity, version};
  if (version == format_version) {
    header.unit_bytes = get_u16(at + 6);
    header.uid_validity = get_u32(at + 28);
    if (header.uid_validity == 0) return std::nullopt;
  } else {
    // What versions 5 and 6 wrote, so that the header encodes back to its bytes.
    if (get_u16(at + 6) != bytes || get_u16(at + 30) != 0) return std::nullopt;
    header.unit_bytes = get_u16(at + 28);
  }
  return header;
}

std::size_t EraseIntent::encode(std::span<std::uint8_t> out) const {
  PIGEON_ASSERT(out.size() >= bytes);
  put_u32(out.data(), retired_sequence);
  put_u32(out.data() + 4, next_erase_count);
  seal(out.data(), 8);
  return bytes;
}

std::optional<EraseIntent> EraseIntent::decode(std::span<const std::uint8_t> in) {
  if (in.size() < bytes || !sealed(in.data(), 8)) return std::nullopt;
  return EraseIntent{get_u32(in.data()), get_u32(in.data() + 4)};
}

std::size_t RecordHeader::encode(std::span<std::uint8_t> out) const {
  PIGEON_ASSERT(out.size() >= bytes);
  out[0] = static_cast<std::uint8_t>(type);
  out[1] = reserved;
  put_u16(out.data() + 2, payload_bytes);
  put_u32(out.data() + 4, message_id);
  put_u32(out.data() + 8, payload_crc);
  seal(out.data(), 12);
  return bytes;
}

std::optional<RecordHeader> RecordHeader::decode(std::span<const std::uint8_t> in) {
  if (in.size() < bytes || in[0] < static_cast<std::uint8_t>(RecordType::begin) ||
      in[0] > static_cast<std::uint8_t>(RecordType::mailbox_state) || !sealed(in.data(), 12)) {
    return std::nullopt;
  }
  return RecordHeader{static_cast<RecordType>(in[0]), in[1], get_u16(in.data() + 2), get_u32(in.data() + 4),
                      get_u32(in.data() + 8)};
}

MaskBytes encode_mask(const RecipientSet& recipients) {
  MaskBytes mask;
  mask.length = 1;  // an empty set is one zero byte
  for (std::size_t r = 0; r < recipients.size(); ++r) {
    if (!recipients[r]) continue;
    mask.storage[r / 8] = static_cast<std::uint8_t>(mask.storage[r / 8] | 1u << (r % 8));
    mask.length = r / 8 + 1;
  }
  return mask;
}

RecipientSet decode_mask(std::span<const std::uint8_t> mask) {
  RecipientSet recipients;
  for (std::size_t r = 0; r < recipients.size() && r / 8 < mask.size(); ++r) {
    recipients[r] = ((mask[r / 8] >> (r % 8)) & 1u) != 0;
  }
  return recipients;
}

std::uint8_t RecipientOutcomes::code(std::uint32_t recipient) const {
  const bool a_recipient = recipient < max_recipients;
  PIGEON_ASSERT(a_recipient);
  return static_cast<std::uint8_t>((bytes[recipient / 4] >> (2 * (recipient % 4))) & 3u);
}

void RecipientOutcomes::record(const RecipientSet& recipients_set, std::uint8_t outcome, std::uint32_t recipients) {
  const bool an_outcome_code = outcome >= 1 && outcome <= 3 && recipients <= max_recipients;
  PIGEON_ASSERT(an_outcome_code);
  for (std::uint32_t r = 0; r < recipients; ++r) {
    if (recipients_set[r] && owed(r)) bytes[r / 4] = static_cast<std::uint8_t>(bytes[r / 4] | outcome << (2 * (r % 4)));
  }
}

void RecipientOutcomes::keep_first(RecipientOutcomes later, std::uint32_t recipients) {
  const bool recipients_fit = recipients <= max_recipients;
  PIGEON_ASSERT(recipients_fit);
  for (std::uint32_t r = 0; r < recipients; ++r) {
    if (owed(r)) bytes[r / 4] = static_cast<std::uint8_t>(bytes[r / 4] | later.code(r) << (2 * (r % 4)));
  }
}

bool RecipientOutcomes::all_done(std::uint32_t recipients) const {
  for (std::uint32_t r = 0; r < recipients; ++r) {
    if (owed(r)) return false;
  }
  return true;
}

std::uint8_t MailboxState::encode() const {
  const bool a_state = (flags & ~flag_bits) == 0 && folder < folders;
  PIGEON_ASSERT(a_state);
  return static_cast<std::uint8_t>(flags | folder << folder_shift);
}

std::optional<MailboxState> MailboxState::decode(std::uint8_t byte) {
  const auto folder = static_cast<std::uint8_t>(byte >> folder_shift);
  if (folder >= folders) return std::nullopt;
  return MailboxState{static_cast<std::uint8_t>(byte & flag_bits), folder};
}

std::size_t EnvelopeRecipient::encode(std::span<std::uint8_t> out) const {
  const bool fits = address.size() <= 0xFFFF && mailbox.size() <= 0xFF && out.size() >= encoded_bytes();
  PIGEON_ASSERT(fits);
  put_u16(out.data(), static_cast<std::uint16_t>(address.size()));
  out[2] = static_cast<std::uint8_t>(mailbox.size());
  put_text(put_text(out.data() + fixed_bytes, address), mailbox);
  return encoded_bytes();
}

std::optional<EnvelopeRecipient> EnvelopeRecipient::decode(std::span<const std::uint8_t> in) {
  if (in.size() < fixed_bytes) return std::nullopt;
  const std::size_t address_bytes = get_u16(in.data());
  const std::size_t mailbox_bytes = in[2];
  if (fixed_bytes + address_bytes + mailbox_bytes > in.size()) return std::nullopt;
  const std::uint8_t* text = in.data() + fixed_bytes;
  return EnvelopeRecipient{text_at(text, address_bytes), text_at(text + address_bytes, mailbox_bytes)};
}

std::size_t Envelope::encode(std::span<std::uint8_t> out) const {
  const bool fits = sender.size() <= 0xFFFF && recipient_count <= RecipientOutcomes::max_recipients &&
                    out.size() >= encoded_bytes();
  PIGEON_ASSERT(fits);
  std::uint8_t* at = out.data();
  // The list first: when rewriting in place, the sender's length does not move it.
  put_bytes(at + sender_offset() + sender.size(), recipient_list);
  at[0] = flags;
  at[1] = recipient_count;
  put_u16(at + 2, static_cast<std::uint16_t>(sender.size()));
  put_u32(at + 4, arrived_s);
  put_u16(at + 8, attempts);
  at[10] = mailbox_state;
  at[11] = reserved;
  put_u32(at + 12, next_retry_s);
  put_bytes(at + fixed_bytes, std::span(outcomes.bytes).first(RecipientOutcomes::encoded_bytes(recipient_count)));
  put_text(at + sender_offset(), sender);
  return encoded_bytes();
}

std::optional<Envelope> Envelope::decode(std::span<const std::uint8_t> in) {
  if (in.size() < fixed_bytes) return std::nullopt;
  const std::uint8_t* at = in.data();
  Envelope envelope;
  envelope.flags = at[0];
  envelope.recipient_count = at[1];
  const std::size_t sender_bytes = get_u16(at + 2);
  envelope.arrived_s = get_u32(at + 4);
  envelope.attempts = get_u16(at + 8);
  envelope.mailbox_state = at[10];
  envelope.reserved = at[11];
  if (!MailboxState::decode(envelope.mailbox_state)) return std::nullopt;
  envelope.next_retry_s = get_u32(at + 12);
  // An inline envelope lists at least one recipient; a streamed one none (§3.6 records hold them).
  const bool count_fits = envelope.streamed() ? envelope.recipient_count == 0
                                              : envelope.recipient_count >= 1 &&
                                                    envelope.recipient_count <= PIGEON_MAX_RECIPIENTS;
  if (!count_fits || envelope.sender_offset() + sender_bytes > in.size()) return std::nullopt;
  const auto outcome_bytes = in.subspan(fixed_bytes, RecipientOutcomes::encoded_bytes(envelope.recipient_count));
  std::copy(outcome_bytes.begin(), outcome_bytes.end(), envelope.outcomes.bytes.begin());
  envelope.sender = text_at(at + envelope.sender_offset(), sender_bytes);
  envelope.recipient_list = in.subspan(envelope.sender_offset() + sender_bytes);
  // Every entry must be whole, and the last one must end the payload.
  std::span<const std::uint8_t> rest = envelope.recipient_list;
  for (std::uint8_t r = 0; r < envelope.recipient_count; ++r) {
    const auto recipient = EnvelopeRecipient::decode(rest);
    if (!recipient) return std::nullopt;
    rest = rest.subspan(recipient->encoded_bytes());
  }
  if (!rest.empty()) return std::nullopt;
  return envelope;
}

bool Envelope::operator==(const Envelope& other) const {
  return flags == other.flags && recipient_count == other.recipient_count && outcomes == other.outcomes &&
         arrived_s == other.arrived_s && attempts == other.attempts && mailbox_state == other.mailbox_state &&
         reserved == other.reserved &&
         next_retry_s == other.next_retry_s && sender == other.sender &&
         std::ranges::equal(recipient_list, other.recipient_list);
}

std::size_t Commit::encode(std::span<std::uint8_t> out) const {
  PIGEON_ASSERT(out.size() >= bytes);
  std::uint8_t* at = out.data();
  put_u32(at, begin_address);
  put_u32(at + 4, envelope_crc);
  put_u32(at + 8, body_bytes);
  put_u32(at + 12, body_crc);
  put_u32(at + 16, data_records);
  put_u16(at + 20, envelope_bytes);
  at[22] = streamed_recipients;
  at[23] = reserved;
  return bytes;
}

std::optional<Commit> Commit::decode(std::span<const std::uint8_t> in) {
  if (in.size() != bytes) return std::nullopt;
  const std::uint8_t* at = in.data();
  return Commit{get_u32(at),      get_u32(at + 4),  get_u32(at + 8), get_u32(at + 12),
                get_u32(at + 16), get_u16(at + 20), at[22],           at[23]};
}

std::size_t RecipientRecord::encode(std::span<std::uint8_t> out) const {
  PIGEON_ASSERT(out.size() >= encoded_bytes());
  out[0] = index;
  out[1] = reserved;
  return fixed_bytes + recipient.encode(out.subspan(fixed_bytes));
}

std::optional<RecipientRecord> RecipientRecord::decode(std::span<const std::uint8_t> in) {
  if (in.size() < fixed_bytes) return std::nullopt;
  const auto recipient = EnvelopeRecipient::decode(in.subspan(fixed_bytes));
  if (!recipient || fixed_bytes + recipient->encoded_bytes() != in.size()) return std::nullopt;
  return RecipientRecord{in[0], in[1], *recipient};
}

std::size_t Outcome::encode(std::span<std::uint8_t> out) const {
  const bool fits = !recipient_mask.empty() && recipient_mask.size() <= max_mask_bytes && out.size() >= encoded_bytes();
  PIGEON_ASSERT(fits);
  out[0] = outcome;
  out[1] = reserved;
  put_bytes(out.data() + fixed_bytes, recipient_mask);
  return encoded_bytes();
}

std::optional<Outcome> Outcome::decode(std::span<const std::uint8_t> in) {
  if (in.size() <= fixed_bytes || in.size() > max_bytes || in[0] < 1 || in[0] > 3) return std::nullopt;
  return Outcome{in[0], in[1], in.subspan(fixed_bytes)};
}

bool Outcome::operator==(const Outcome& other) const {
  return outcome == other.outcome && reserved == other.reserved &&
         std::ranges::equal(recipient_mask, other.recipient_mask);
}

std::size_t Attempt::encode(std::span<std::uint8_t> out) const {
  const bool fits = !recipient_mask.empty() && recipient_mask.size() <= max_mask_bytes &&
                    enhanced.size() <= max_enhanced_bytes && text.size() <= max_text_bytes &&
                    out.size() >= encoded_bytes();
  PIGEON_ASSERT(fits);
  std::uint8_t* at = out.data();
  put_u16(at, attempts);
  put_u16(at + 2, reply_code);
  put_u32(at + 4, next_retry_s);
  at[8] = static_cast<std::uint8_t>(recipient_mask.size());
  at[9] = static_cast<std::uint8_t>(enhanced.size());
  at[10] = static_cast<std::uint8_t>(text.size());
  put_text(put_text(put_bytes(at + fixed_bytes, recipient_mask), enhanced), text);
  return encoded_bytes();
}

std::optional<Attempt> Attempt::decode(std::span<const std::uint8_t> in) {
  if (in.size() < fixed_bytes) return std::nullopt;
  const std::uint8_t* at = in.data();
  const std::size_t mask_bytes = at[8], enhanced_bytes = at[9], text_bytes = at[10];
  if (mask_bytes == 0 || mask_bytes > max_mask_bytes || enhanced_bytes > max_enhanced_bytes ||
      text_bytes > max_text_bytes || fixed_bytes + mask_bytes + enhanced_bytes + text_bytes != in.size()) {
    return std::nullopt;
  }
  const std::uint8_t* texts = at + fixed_bytes + mask_bytes;
  return Attempt{get_u16(at),
                 get_u16(at + 2),
                 get_u32(at + 4),
                 in.subspan(fixed_bytes, mask_bytes),
                 text_at(texts, enhanced_bytes),
                 text_at(texts + enhanced_bytes, text_bytes)};
}

bool Attempt::operator==(const Attempt& other) const {
  return attempts == other.attempts && reply_code == other.reply_code && next_retry_s == other.next_retry_s &&
         std::ranges::equal(recipient_mask, other.recipient_mask) && enhanced == other.enhanced && text == other.text;
}

std::size_t MailboxStates::encode(std::span<std::uint8_t> out) const {
  const bool fits = pairs.size() == 2u * count && out.size() >= encoded_bytes();
  PIGEON_ASSERT(fits);
  out[0] = count;
  out[1] = reserved;
  put_bytes(out.data() + fixed_bytes, pairs);
  return encoded_bytes();
}

std::optional<MailboxStates> MailboxStates::decode(std::span<const std::uint8_t> in) {
  if (in.size() < fixed_bytes || in.size() > max_bytes || in.size() != fixed_bytes + 2u * in[0]) return std::nullopt;
  const std::span<const std::uint8_t> pairs = in.subspan(fixed_bytes);
  for (std::size_t at = 0; at < pairs.size(); at += 2) {
    const bool ascending = at == 0 || pairs[at] > pairs[at - 2];
    if (!ascending || pairs[at] >= PIGEON_MAX_RECIPIENTS || !MailboxState::decode(pairs[at + 1])) return std::nullopt;
  }
  return MailboxStates{in[0], in[1], pairs};
}

std::optional<MailboxState> MailboxStates::state_of(std::uint8_t recipient) const {
  for (std::size_t at = 0; at < pairs.size(); at += 2) {
    if (pairs[at] == recipient) return MailboxState::decode(pairs[at + 1]);
  }
  return std::nullopt;
}

bool MailboxStates::operator==(const MailboxStates& other) const {
  return count == other.count && reserved == other.reserved && std::ranges::equal(pairs, other.pairs);
}

}  // namespace pigeon::spool_format
