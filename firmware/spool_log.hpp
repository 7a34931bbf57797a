// The spool's log layer (docs/spool-format.md §2, §3, §5 step 1, §6): the ring
// of flash sectors with their headers and erase intents, the head where
// records are appended and the tail where sectors leave the log. It knows
// records, not messages: the spool (spool.hpp) decides what to write, and how
// many messages still begin in a sector (which keeps it in the log).
//
// Call order is checked, not trusted: a record is appended only after
// prepare() made room for it, and a payload built or read in the log's
// scratch buffer is appended only while nothing else has used the scratch.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "hal/flash.hpp"
#include "pigeon_limits.hpp"
#include "spool_format.hpp"

namespace pigeon {

enum class SpoolStatus : std::uint8_t {
  ok,
  full,          // no room for the record: 452 4.3.1
  too_many,      // the index or the writers are all taken: 452 4.3.1 as well
  too_big,       // an open message reached its share of the spool: 552 5.3.4
  aborted,       // reclaim needed the sector of this open message: 451 4.3.0, retry
  corrupt,       // a CRC did not match: the message is never delivered
  not_found,
  flash_error,   // the flash failed (or lost power): remount before going on
};

using MessageId = std::uint32_t;

// The largest begin (envelope) payload this build writes (§8): an inline one
// of PIGEON_SPOOL_INLINE_RECIPIENTS (a streamed one is smaller).
inline constexpr std::uint32_t spool_max_envelope_bytes =
    spool_format::Envelope::fixed_bytes +
    spool_format::RecipientOutcomes::encoded_bytes(PIGEON_SPOOL_INLINE_RECIPIENTS) + spool_format::max_sender_bytes +
    PIGEON_ENVELOPE_BYTES +
    PIGEON_SPOOL_INLINE_RECIPIENTS * (spool_format::EnvelopeRecipient::fixed_bytes + PIGEON_SPOOL_MAILBOX_NAME_BYTES);

// The largest recipient record payload (§3.6).
inline constexpr std::uint32_t spool_max_recipient_record_bytes =
    spool_format::RecipientRecord::fixed_bytes + spool_format::EnvelopeRecipient::fixed_bytes +
    spool_format::max_sender_bytes + PIGEON_SPOOL_MAILBOX_NAME_BYTES;

class SpoolLog {
 public:
  using RecordHeader = spool_format::RecordHeader;
  using RecordType = spool_format::RecordType;

  static constexpr std::uint32_t max_payload_bytes =
      spool_max_envelope_bytes > PIGEON_SPOOL_WRITE_BUFFER_BYTES ? spool_max_envelope_bytes
                                                                 : PIGEON_SPOOL_WRITE_BUFFER_BYTES;
  static_assert(max_payload_bytes <= 0xFFFF, "payload lengths are 16 bits");
  static_assert(max_payload_bytes >= spool_max_recipient_record_bytes, "a recipient record is read in the scratch");
  static_assert(max_payload_bytes >= spool_format::MailboxStates::max_bytes, "a mailbox state record is read in the scratch");

  // A payload in the log's scratch buffer, from read_payload() or draft().
  // `lease` says which hand-out of the scratch it is; append() refuses a
  // payload whose scratch was handed out again since.
  struct ScratchPayload {
    std::span<std::uint8_t> bytes;
    std::uint32_t lease = 0;
  };

  explicit SpoolLog(hal::Flash& flash) : flash_(flash) {}

  // Mount, step 1 (spool_mount.cpp): checks the geometry, reads every sector
  // header and intent slot once and finds the log. flash_error when the flash
  // cannot hold a spool.
  SpoolStatus open();
  bool empty() const { return log_sectors_ == 0; }
  // Starts a new log in sector 0 (§5 step 1, blank flash) whose sectors all
  // carry `uid_validity` (not 0).
  SpoolStatus format(std::uint32_t uid_validity);
  // IMAP's UIDVALIDITY of the spool's ids (§2.1): chosen by format(), read by
  // open() from the head sector's header, written into every sector opened.
  std::uint32_t uid_validity() const { return uid_validity_; }
  // Mount, step 2: calls visit(address, header) for every valid record from
  // the tail to the head, reading each header once, and places the head after
  // the last one, sealing it when a torn program left the rest unusable (§5
  // step 4).
  template <class Visit>
  void replay(Visit visit);

  // Message ids: the next one is recorded in every new sector header, and no
  // id is used twice.
  MessageId next_message_id() const { return next_id_; }
  void saw_message_id(MessageId id);

  // The flash one record of `payload_bytes` takes, padding included.
  std::uint32_t record_bytes(std::uint32_t payload_bytes) const;
  bool fits_in_head(std::uint32_t record_bytes) const { return head_offset_ + record_bytes <= sector_bytes_; }
  // Makes the head able to take a record of `record_bytes`, opening the next
  // sector if need be while more than `keep_free_sectors` are free (§6).
  SpoolStatus prepare(std::uint32_t record_bytes, std::uint32_t keep_free_sectors);

  // The scratch, handed out for building a payload of `payload_bytes` in place.
  ScratchPayload draft(std::uint32_t payload_bytes);
  // Programs a record at the head, which prepare() readied. The record is
  // decoded again before it is programmed.
  SpoolStatus append(RecordType type, MessageId id, ScratchPayload payload, std::uint32_t* address_out = nullptr);
  SpoolStatus append(RecordType type, MessageId id, std::span<const std::uint8_t> payload,
                     std::uint32_t* address_out = nullptr);

  std::optional<RecordHeader> read_header(std::uint32_t address);
  // A record's payload read into the scratch; nullopt unless its CRC matches.
  std::optional<ScratchPayload> read_payload(std::uint32_t address, const RecordHeader& header);
  // ... when the length and CRC come from elsewhere (a commit names its begin).
  std::optional<ScratchPayload> read_payload(std::uint32_t address, std::uint32_t payload_bytes,
                                             std::uint32_t payload_crc);
  // A payload read and decoded as `Structure` (spool_format.hpp); what it
  // views is in the scratch.
  template <class Structure>
  std::optional<Structure> read_decoded(std::uint32_t address, std::uint32_t payload_bytes, std::uint32_t payload_crc) {
    const std::optional<ScratchPayload> payload = read_payload(address, payload_bytes, payload_crc);
    if (!payload) return std::nullopt;
    return Structure::decode(payload->bytes);
  }
  template <class Structure>
  std::optional<Structure> read_decoded(std::uint32_t address, const RecordHeader& header) {
    return read_decoded<Structure>(address, header.payload_bytes, header.payload_crc);
  }
  // Raw bytes of a payload, from `offset` within it (message bodies).
  bool read_payload_bytes(std::uint32_t address, std::uint32_t offset, std::span<std::uint8_t> out);
  // The durability point for what was programmed so far.
  SpoolStatus sync();
  std::uint32_t next_address(std::uint32_t address, const RecordHeader& header) const {
    return address + record_bytes(header.payload_bytes);
  }
  // The first record of message `id` at or after `address`, following the log
  // across sectors; nullopt at the end of the log.
  std::optional<RecordHeader> next_record_of(MessageId id, std::uint32_t& address);
  // True when the record at `earlier` precedes the one at `later` in the log.
  bool precedes(std::uint32_t earlier, std::uint32_t later) const;

  // Messages that begin in a sector keep it in the log.
  void add_begin(std::uint32_t address);
  void remove_begin(std::uint32_t address);
  // Sectors at the tail where no message begins leave the log (in RAM: §6).
  void drop_dead_tail();

  // For reclaim's plan (§7): the log's sectors from the tail towards the head.
  std::uint32_t sector_of(std::uint32_t address) const { return address / sector_bytes_; }
  std::uint32_t tail_sector() const { return tail_sector_; }
  std::uint32_t head_sector() const { return head_sector_; }
  std::uint32_t following(std::uint32_t sector) const { return (sector + 1) % sector_count_; }
  std::uint32_t dead_sectors_after(std::uint32_t sector) const;
  std::uint32_t usable_sector_bytes() const { return sector_bytes_ - data_offset_; }
  std::uint32_t free_sectors() const { return sector_count_ - log_sectors_; }
  std::uint32_t free_bytes() const { return (sector_bytes_ - head_offset_) + free_sectors() * usable_sector_bytes(); }
  std::uint32_t sector_count() const { return sector_count_; }

 private:
  struct Sector {
    std::uint32_t sequence = 0;  // 0: no valid header
    std::uint32_t erase_count = 0;
    std::uint32_t live_begins = 0;  // messages that begin here
    bool in_log = false;
    std::uint8_t intents_written = 0;  // erase-intent slots programmed (or torn) since the erase
  };

  // Mount (spool_mount.cpp).
  SpoolStatus read_sector_headers();
  void retire_old_sectors(std::uint32_t retired_sequence);
  void find_log_ends();
  void seal_head_unless_blank();

  SpoolStatus start_sector(std::uint32_t sector);
  SpoolStatus record_erase_intent();
  bool sector_blank(std::uint32_t sector, std::uint32_t from_offset);
  std::uint32_t first_record(std::uint32_t sector) const { return sector * sector_bytes_ + data_offset_; }
  std::uint32_t align(std::uint32_t bytes) const { return (bytes + unit_bytes_ - 1) / unit_bytes_ * unit_bytes_; }
  std::uint8_t* scratch_payload() { return scratch_.data() + RecordHeader::bytes; }
  ScratchPayload lease_scratch(std::uint32_t payload_bytes);

  hal::Flash& flash_;
  std::uint32_t sector_bytes_ = 0;
  std::uint32_t sector_count_ = 0;
  std::uint32_t unit_bytes_ = 0;
  std::uint32_t data_offset_ = 0;  // where the first record of a sector starts
  std::uint32_t head_sector_ = 0;
  std::uint32_t head_offset_ = 0;  // next free byte in the head sector
  std::uint32_t tail_sector_ = 0;  // the oldest sector of the log
  std::uint32_t log_sectors_ = 0;
  std::uint32_t next_sequence_ = 1;
  std::uint32_t retired_sequence_ = 0;  // sectors up to this sequence left the log
  std::uint32_t durable_retired_ = 0;   // ... and flash says so
  MessageId next_id_ = 1;
  std::uint32_t uid_validity_ = spool_format::unversioned_uid_validity;
  std::uint32_t lease_ = 0;
  std::array<Sector, PIGEON_SPOOL_MAX_SECTORS> sectors_{};
  // A record is built here whole, so that it is programmed in one operation,
  // padding included; payloads are read here to check their CRC.
  std::array<std::uint8_t, RecordHeader::bytes + max_payload_bytes + spool_format::max_unit_bytes> scratch_{};
};

template <class Visit>
void SpoolLog::replay(Visit visit) {
  for (std::uint32_t s = tail_sector_;; s = following(s)) {
    std::uint32_t address = first_record(s);
    for (std::optional<RecordHeader> header; sectors_[s].in_log && (header = read_header(address));) {
      visit(address, *header);
      address = next_address(address, *header);
    }
    if (s == head_sector_) {
      head_offset_ = address - s * sector_bytes_;
      break;
    }
  }
  seal_head_unless_blank();
}

}  // namespace pigeon
