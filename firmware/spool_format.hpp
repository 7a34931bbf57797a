// The spool's on-flash format (docs/spool-format.md, version 7) as pure codecs:
// one struct per table of that page, field for field, reserved fields
// included, so that a structure decoded from flash encodes back to the same
// bytes. encode() writes the structure (not the padding to the program unit)
// and returns its length; decode() checks what the page says makes the
// structure valid and reads nothing outside the span it is given. No flash,
// no state: the spool's layers above (spool_log.hpp, spool.hpp) do the I/O.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "pigeon_limits.hpp"
#include "protocol/mailbox_address.hpp"

namespace pigeon::spool_format {

inline constexpr std::uint32_t sector_magic = 0x50534750;  // "PGSP" in memory order
inline constexpr std::uint16_t format_version = 7;
// §2.1: version 5 has no mailbox state records and a zero byte where version 6
// keeps a begin's mailbox state, and neither has a UIDVALIDITY in its sector
// header: their sectors are read as they are.
inline constexpr std::uint16_t oldest_readable_version = 5;
// §2.1: the UIDVALIDITY of a spool of version 5 or 6, the constant that IMAP
// told its clients before version 7 kept one.
inline constexpr std::uint32_t unversioned_uid_validity = 1;
// §2.1: a wall clock below this (2004-01-10) is no clock that is right; the
// random UIDVALIDITY of a format without the time stays below it.
inline constexpr std::uint32_t uid_validity_clock_floor_s = 1u << 30;
// §2.1: the UIDVALIDITY a spool formatted now takes: the wall clock's seconds
// since the Unix epoch when they are known (0: not known) and at least the
// floor, else 2 + `random_bits` modulo (floor - 2), above the versions 5 and 6
// value and below any clock value.
std::uint32_t uid_validity_at_format(std::int64_t unix_time_s, std::uint32_t random_bits);
inline constexpr std::uint32_t intent_slots = 2;
inline constexpr std::uint32_t max_unit_bytes = 256;
inline constexpr std::uint32_t max_sender_bytes = protocol::max_path_bytes;
// The format counts recipients in one byte; a build keeps PIGEON_MAX_RECIPIENTS.
inline constexpr std::uint32_t max_recipients = 255;
static_assert(PIGEON_MAX_RECIPIENTS >= 1 && PIGEON_MAX_RECIPIENTS <= max_recipients,
              "a message's recipient count is one byte on flash");

// A set of recipients of one message by index (recipient r is bit r).
using RecipientSet = std::bitset<PIGEON_MAX_RECIPIENTS>;

// §3.4 and §3.5: a recipient mask on flash, bit r mod 8 of byte r / 8, as
// many bytes as its highest recipient needs (at least one).
inline constexpr std::size_t max_mask_bytes = (max_recipients + 7) / 8;
struct MaskBytes {
  std::array<std::uint8_t, (PIGEON_MAX_RECIPIENTS + 7) / 8> storage{};
  std::size_t length = 0;
  std::span<const std::uint8_t> bytes() const { return std::span(storage).first(length); }
};
MaskBytes encode_mask(const RecipientSet& recipients);
// Bits of recipients this build cannot have are ignored.
RecipientSet decode_mask(std::span<const std::uint8_t> mask);

// "Erased" means every byte 0xFF.
bool erased(std::span<const std::uint8_t> bytes);

// §2.1 Sector header. Magic, the CRC and (versions 5 and 6) the header
// bytes and the reserved field are not fields: encode() writes them, decode()
// checks them.
struct SectorHeader {
  static constexpr std::size_t bytes = 36;
  std::uint32_t sequence = 0;
  std::uint32_t erase_count = 0;
  std::uint32_t next_message_id = 0;
  std::uint32_t retired_sequence = 0;
  std::uint32_t sector_bytes = 0;
  std::uint16_t unit_bytes = 0;
  // Never 0; unversioned_uid_validity in a header of version 5 or 6.
  std::uint32_t uid_validity = 0;
  // Decoded from oldest_readable_version up; the spool writes format_version.
  std::uint16_t version = format_version;

  std::size_t encode(std::span<std::uint8_t> out) const;
  static std::optional<SectorHeader> decode(std::span<const std::uint8_t> in);
  bool operator==(const SectorHeader&) const = default;
};

// §2.2 Erase-intent slot.
struct EraseIntent {
  static constexpr std::size_t bytes = 12;
  std::uint32_t retired_sequence = 0;
  std::uint32_t next_erase_count = 0;

  std::size_t encode(std::span<std::uint8_t> out) const;
  static std::optional<EraseIntent> decode(std::span<const std::uint8_t> in);
  bool operator==(const EraseIntent&) const = default;
};

// §3 Record types; 0x00 and 0xFF (erased) are never types.
enum class RecordType : std::uint8_t {
  begin = 1,
  data = 2,
  commit = 3,
  outcome = 4,
  attempt = 5,
  recipient = 6,
  mailbox_state = 7,
};

// §3 Record header. Whether the record ends inside its sector is the log's
// check (spool_log.hpp): the header alone does not know where it is.
struct RecordHeader {
  static constexpr std::size_t bytes = 16;
  RecordType type = RecordType::begin;
  std::uint8_t reserved = 0;
  std::uint16_t payload_bytes = 0;
  std::uint32_t message_id = 0;
  std::uint32_t payload_crc = 0;

  std::size_t encode(std::span<std::uint8_t> out) const;
  static std::optional<RecordHeader> decode(std::span<const std::uint8_t> in);
  bool operator==(const RecordHeader&) const = default;
};

// §3.1 and §3.4: two bits per recipient, recipient r at bits 2(r mod 4) and
// 2(r mod 4)+1 of byte r / 4; 0 is owed, else the outcome code. The first
// outcome of a recipient is final.
struct RecipientOutcomes {
  static constexpr std::uint32_t max_recipients = PIGEON_MAX_RECIPIENTS;
  std::array<std::uint8_t, (max_recipients + 3) / 4> bytes{};

  // The bytes a message of `recipients` recipients keeps on flash.
  static constexpr std::size_t encoded_bytes(std::uint32_t recipients) { return (recipients + 3) / 4; }
  std::uint8_t code(std::uint32_t recipient) const;
  bool owed(std::uint32_t recipient) const { return code(recipient) == 0; }
  // Gives `code` to every recipient in `recipients_set` (below `recipients`) still owed.
  void record(const RecipientSet& recipients_set, std::uint8_t code, std::uint32_t recipients);
  // Adds what `later` knows about recipients this one still owes.
  void keep_first(RecipientOutcomes later, std::uint32_t recipients);
  bool all_done(std::uint32_t recipients) const;
  bool operator==(const RecipientOutcomes&) const = default;
};

// §3.7: what IMAP keeps of a message for one local recipient, in one byte:
// the system flags in bits 0-4 (\Seen 1, \Answered 2, \Flagged 4, \Deleted 8,
// \Draft 16: protocol::ImapFlag's bits) and the folder in bits 5-7.
struct MailboxState {
  static constexpr std::uint8_t seen = 1, answered = 2, flagged = 4, deleted = 8, draft = 16;
  static constexpr std::uint8_t flag_bits = 0x1F;
  static constexpr std::uint8_t folder_shift = 5;
  // RFC 6154's special-use folders, by number.
  static constexpr std::uint8_t inbox = 0, sent = 1, drafts = 2, trash = 3, junk = 4;
  static constexpr std::uint8_t folders = 5;
  std::uint8_t flags = 0;
  std::uint8_t folder = inbox;

  std::uint8_t encode() const;
  // nullopt for a folder number above junk.
  static std::optional<MailboxState> decode(std::uint8_t byte);
  bool operator==(const MailboxState&) const = default;
};

// §3.1: one recipient entry of the envelope.
struct EnvelopeRecipient {
  static constexpr std::size_t fixed_bytes = 3;
  std::string_view address;
  std::string_view mailbox;  // empty: relayed to the smarthost

  std::size_t encoded_bytes() const { return fixed_bytes + address.size() + mailbox.size(); }
  std::size_t encode(std::span<std::uint8_t> out) const;
  // The entry at the start of `in`; its length is encoded_bytes().
  static std::optional<EnvelopeRecipient> decode(std::span<const std::uint8_t> in);
  bool operator==(const EnvelopeRecipient&) const = default;
};

// §3.1 Begin record payload: the envelope. `sender` and `recipient_list`
// view the bytes it was decoded from (or will be encoded from); the list is
// `recipient_count` EnvelopeRecipient entries back to back. The outcomes
// (RecipientOutcomes::encoded_bytes(recipient_count)) follow the fixed part.
// With flag_streamed the recipients are recipient records (§3.6), the commit
// counts them, and the begin has neither outcomes nor a list
// (`recipient_count` is 0).
struct Envelope {
  static constexpr std::size_t fixed_bytes = 16;
  static constexpr std::uint8_t flag_8bit = 1;
  static constexpr std::uint8_t flag_streamed = 2;
  std::uint8_t flags = 0;
  std::uint8_t recipient_count = 0;
  std::uint32_t arrived_s = 0;
  std::uint16_t attempts = 0;
  std::uint8_t mailbox_state = 0;  // MailboxState::encode() of every local recipient until a §3.7 record
  std::uint8_t reserved = 0;
  std::uint32_t next_retry_s = 0;
  RecipientOutcomes outcomes;
  std::string_view sender;
  std::span<const std::uint8_t> recipient_list;

  bool body_8bit() const { return (flags & flag_8bit) != 0; }
  bool streamed() const { return (flags & flag_streamed) != 0; }
  // Where the sender starts: after the fixed part and the outcomes.
  std::size_t sender_offset() const { return fixed_bytes + RecipientOutcomes::encoded_bytes(recipient_count); }
  std::size_t encoded_bytes() const { return sender_offset() + sender.size() + recipient_list.size(); }
  // Writes the fixed part, the sender and the list; `out` may be the very
  // bytes the envelope was decoded from (reclaim rewrites it in place).
  std::size_t encode(std::span<std::uint8_t> out) const;
  static std::optional<Envelope> decode(std::span<const std::uint8_t> in);
  // Calls visit(index, recipient) for each entry; decode() checked them all.
  template <class Visit>
  void for_each_recipient(Visit visit) const {
    std::span<const std::uint8_t> rest = recipient_list;
    for (std::uint8_t r = 0; r < recipient_count; ++r) {
      const EnvelopeRecipient recipient = *EnvelopeRecipient::decode(rest);
      visit(r, recipient);
      rest = rest.subspan(recipient.encoded_bytes());
    }
  }
  bool operator==(const Envelope& other) const;
};

// §3.3 Commit record payload.
struct Commit {
  static constexpr std::size_t bytes = 24;
  std::uint32_t begin_address = 0;
  std::uint32_t envelope_crc = 0;
  std::uint32_t body_bytes = 0;
  std::uint32_t body_crc = 0;
  std::uint32_t data_records = 0;
  std::uint16_t envelope_bytes = 0;
  std::uint8_t streamed_recipients = 0;  // recipient records of a streamed envelope; 0 for an inline one
  std::uint8_t reserved = 0;

  std::size_t encode(std::span<std::uint8_t> out) const;
  static std::optional<Commit> decode(std::span<const std::uint8_t> in);
  bool operator==(const Commit&) const = default;
};

// §3.6 Recipient record payload: recipient `index` of a streamed envelope.
struct RecipientRecord {
  static constexpr std::size_t fixed_bytes = 2;
  std::uint8_t index = 0;
  std::uint8_t reserved = 0;
  EnvelopeRecipient recipient;

  std::size_t encoded_bytes() const { return fixed_bytes + recipient.encoded_bytes(); }
  std::size_t encode(std::span<std::uint8_t> out) const;
  // The entry must end the payload.
  static std::optional<RecipientRecord> decode(std::span<const std::uint8_t> in);
  bool operator==(const RecipientRecord&) const = default;
};

// §3.4 Outcome record payload; decode() accepts the three outcome codes only.
// `recipient_mask` views the mask's bytes (1..max_mask_bytes).
struct Outcome {
  static constexpr std::size_t fixed_bytes = 2;
  static constexpr std::size_t max_bytes = fixed_bytes + max_mask_bytes;
  std::uint8_t outcome = 0;
  std::uint8_t reserved = 0;
  std::span<const std::uint8_t> recipient_mask;

  std::size_t encoded_bytes() const { return fixed_bytes + recipient_mask.size(); }
  std::size_t encode(std::span<std::uint8_t> out) const;
  static std::optional<Outcome> decode(std::span<const std::uint8_t> in);
  bool operator==(const Outcome& other) const;
};

// §3.5 Attempt record payload; `recipient_mask` views the mask's bytes
// (1..max_mask_bytes), which come before the texts.
struct Attempt {
  static constexpr std::size_t fixed_bytes = 11;
  static constexpr std::size_t max_enhanced_bytes = 15;
  static constexpr std::size_t max_text_bytes = 64;
  static constexpr std::size_t max_bytes = fixed_bytes + max_mask_bytes + max_enhanced_bytes + max_text_bytes;
  std::uint16_t attempts = 0;
  std::uint16_t reply_code = 0;
  std::uint32_t next_retry_s = 0;
  std::span<const std::uint8_t> recipient_mask;
  std::string_view enhanced;  // at most max_enhanced_bytes
  std::string_view text;      // at most max_text_bytes

  std::size_t encoded_bytes() const { return fixed_bytes + recipient_mask.size() + enhanced.size() + text.size(); }
  std::size_t encode(std::span<std::uint8_t> out) const;
  static std::optional<Attempt> decode(std::span<const std::uint8_t> in);
  bool operator==(const Attempt& other) const;
};

// §3.7 Mailbox state record payload: `count` pairs (recipient index, state
// byte), indexes ascending; `pairs` views their bytes.
struct MailboxStates {
  static constexpr std::size_t fixed_bytes = 2;
  static constexpr std::size_t max_bytes = fixed_bytes + 2 * PIGEON_MAX_RECIPIENTS;
  std::uint8_t count = 0;
  std::uint8_t reserved = 0;
  std::span<const std::uint8_t> pairs;

  std::size_t encoded_bytes() const { return fixed_bytes + pairs.size(); }
  std::size_t encode(std::span<std::uint8_t> out) const;
  // Checks the length, the order of the indexes (below PIGEON_MAX_RECIPIENTS)
  // and every state byte.
  static std::optional<MailboxStates> decode(std::span<const std::uint8_t> in);
  // The state the record gives `recipient`; nullopt when it names it not.
  std::optional<MailboxState> state_of(std::uint8_t recipient) const;
  bool operator==(const MailboxStates& other) const;
};

}  // namespace pigeon::spool_format
