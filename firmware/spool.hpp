// The spool: a log-structured ring of flash sectors that holds every accepted
// message until each recipient is done with it (docs/architecture.md §5). The on-flash
// format, the commit rule and the recovery algorithm are docs/spool-format.md;
// this file follows it. The RAM index is rebuilt from the log at mount.
//
// Durability: commit(), mark_recipient() and mark_deleted() program records;
// they are durable once the following sync() returns ok. Answer 250 (or report
// success to the alert API, or +OK to POP3 QUIT) only after that sync.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "hal/flash.hpp"
#include "pigeon_limits.hpp"

namespace pigeon {

enum class SpoolStatus : std::uint8_t {
  ok,
  full,          // no room for the record: 452 4.3.1
  too_many,      // the index or the writers are all taken: 452 4.3.1 as well
  corrupt,       // a CRC did not match: the message is never delivered
  not_found,
  flash_error,   // the flash failed (or lost power): remount before going on
};

using MessageId = std::uint32_t;

// What became of one recipient of a message. Each recipient is owed until it
// gets an outcome; the first outcome recorded is final.
enum class RecipientOutcome : std::uint8_t {
  relayed = 1,  // the smarthost took it (250 to its DATA)
  bounced = 2,  // failed permanently or expired; a DSN went to the sender
  deleted = 3,  // the local user deleted it in a committed POP3 session
};

// Local mailboxes by small number; the spool stores names and asks this
// directory at mount which mailbox a name is now.
class MailboxDirectory {
 public:
  virtual std::optional<std::uint8_t> mailbox_number(std::string_view name) const = 0;

 protected:
  ~MailboxDirectory() = default;
};

struct SpoolRecipient {
  std::string_view address;
  std::string_view mailbox;  // the local user's name; empty when relayed onward
};

struct SpoolEnvelope {
  std::string_view sender;
  std::span<const SpoolRecipient> recipients;
  bool body_8bit = false;
  // Wall clock seconds since the Unix epoch when the message arrived; 0 when
  // the board does not know the time yet. Kept so that the maximum queue age
  // counts from arrival across restarts.
  std::uint32_t arrived_s = 0;
};

// The latest temporary failure of some recipients, kept on flash so that the
// backoff survives a restart and the inspector can show why mail waits.
struct SpoolAttempt {
  std::uint16_t attempts = 0;      // temporary failures so far
  std::uint32_t next_retry_s = 0;  // wall clock seconds; 0 when unknown
  std::uint16_t reply_code = 0;    // the smarthost's reply; 0 when there was none (connection failed)
  std::string_view enhanced;       // its enhanced status code ("4.3.0"), may be empty
  std::string_view text;           // its text or the failure; truncated when stored
};

struct MaildropEntry {
  MessageId id = 0;
  std::uint32_t size_bytes = 0;
};

// A committed message that still owes at least one recipient to the smarthost.
struct OutboundMessage {
  MessageId id = 0;
  std::uint32_t size_bytes = 0;
  bool body_8bit = false;
  std::uint8_t recipient_count = 0;
  // Bit r set: recipient r is not local and has no outcome yet.
  std::uint32_t owed_remote_mask = 0;
  std::uint32_t arrived_s = 0;     // wall clock; 0 when unknown
  std::uint16_t attempts = 0;      // temporary failures recorded so far
  std::uint32_t next_retry_s = 0;  // wall clock of the next attempt; 0 when none is recorded
};

// A message being written; from open_message() to commit() or discard().
class SpoolWriter {
 public:
  MessageId message_id() const { return id_; }

 private:
  friend class Spool;
  std::uint8_t slot_ = 0;
  MessageId id_ = 0;
};

// Writes the message id in the form used for POP3 UIDL and Received ids.
std::size_t format_message_id(MessageId id, std::span<char> out);

class Spool {
 public:
  Spool(hal::Flash& flash, const MailboxDirectory& mailboxes) : flash_(flash), mailboxes_(mailboxes) {}

  // Rebuilds the index from the log; formats flash that holds no spool. Reads
  // each sector header once and each record header at most once, and programs
  // nothing unless it formats.
  SpoolStatus mount();

  // Writing a message: open, append the body in any pieces, commit (or
  // discard). full / too_many mean 452 4.3.1; the spool is unchanged for every
  // other message.
  SpoolStatus open_message(const SpoolEnvelope& envelope, SpoolWriter& writer);
  SpoolStatus append(const SpoolWriter& writer, std::span<const std::uint8_t> bytes);
  // Programs the commit record and reads it back. Durable after sync().
  SpoolStatus commit(const SpoolWriter& writer);
  void discard(const SpoolWriter& writer);
  // The durability point for every commit and outcome since the last sync.
  SpoolStatus sync();

  // POP3: the committed messages of a mailbox that it has not deleted and whose
  // CRCs check out, oldest first; returns how many were written to `out`.
  std::size_t list_mailbox(std::string_view mailbox, std::span<MaildropEntry> out);
  // Message bytes from `offset`; 0 at the end or on error.
  std::size_t read(MessageId id, std::uint32_t offset, std::span<std::uint8_t> out);
  // Records that `mailbox` deleted the message (a committed POP3 session):
  // outcome `deleted` for each of its recipients that is this mailbox.
  SpoolStatus mark_deleted(MessageId id, std::string_view mailbox);

  // Relay: the committed message with the smallest id above `after` that owes
  // a recipient to the smarthost and whose CRCs check out. Iterate with
  // `after` = the previous id, starting from 0.
  std::optional<OutboundMessage> next_outbound(MessageId after);
  // The envelope as stored on flash, copied into `out`; nullopt when the id is
  // unknown, the index out of range, `out` too small, or the envelope corrupt.
  // The sender is empty for the null reverse-path <>.
  std::optional<std::string_view> read_sender(MessageId id, std::span<char> out);
  std::optional<std::string_view> read_recipient(MessageId id, std::uint8_t recipient_index,
                                                 std::span<char> out);
  // Records the outcome of one recipient. A recipient that already has an
  // outcome keeps it (returns ok). When every recipient has one, the message is
  // dead and its space is reclaimed.
  SpoolStatus mark_recipient(MessageId id, std::uint8_t recipient_index, RecipientOutcome outcome);
  // Records a temporary failure of the recipients in `recipients_mask`; the
  // latest one of a message counts. Durable after sync(); losing it to a power
  // cut only means the next retry comes sooner.
  SpoolStatus record_attempt(MessageId id, std::uint32_t recipients_mask, const SpoolAttempt& attempt);

  struct Usage {
    std::uint32_t messages;      // committed and not dead
    std::uint32_t free_sectors;  // not in the log (erased, or dead and not yet erased)
    std::uint32_t sector_count;
  };
  Usage usage() const;

 private:
  enum class EntryState : std::uint8_t { unused, writing, committed };
  // The mailbox number of a recipient relayed onward, and of a local name the
  // directory no longer knows (kept, never relayed, never listed).
  static constexpr std::uint8_t remote_mailbox = 0xFF;
  static constexpr std::uint8_t unknown_mailbox = 0xFE;

  struct IndexEntry {
    MessageId id = 0;
    EntryState state = EntryState::unused;
    bool body_8bit = false;
    bool verified = false;  // every data CRC and the body CRC checked out
    bool corrupt = false;   // a check failed: never delivered, dropped at reclaim
    std::uint8_t recipient_count = 0;
    std::uint16_t envelope_bytes = 0;
    std::uint32_t envelope_crc = 0;
    std::uint32_t begin_address = 0;
    std::uint32_t size_bytes = 0;
    std::uint32_t body_crc = 0;
    std::uint32_t data_records = 0;
    std::uint64_t outcomes = 0;  // two bits per recipient: 0 owed, else a RecipientOutcome
    std::uint32_t arrived_s = 0;
    std::uint32_t next_retry_s = 0;
    std::uint16_t attempts = 0;
    std::uint32_t attempt_address = 0;  // the latest attempt record; 0 when there is none
    std::array<std::uint8_t, PIGEON_MAX_RECIPIENTS> mailbox{};

    bool owed(std::uint8_t recipient) const { return ((outcomes >> (2 * recipient)) & 3u) == 0; }
    bool dead() const;
  };

  struct Writer {
    bool open = false;
    std::uint32_t index_slot = 0;
    std::uint32_t length = 0;
    std::uint32_t crc = 0;
    std::uint32_t records = 0;
    std::uint32_t buffered = 0;
    std::array<std::uint8_t, PIGEON_SPOOL_WRITE_BUFFER_BYTES> buffer{};
  };

  struct Sector {
    std::uint32_t sequence = 0;     // 0: no valid header
    std::uint32_t erase_count = 0;
    std::uint32_t live_begins = 0;  // index entries whose begin record is here
    bool in_log = false;
    std::uint8_t intents_written = 0;  // erase-intent slots programmed (or torn) since the erase
  };

  struct RecordHeader {
    std::uint8_t type = 0;
    MessageId id = 0;
    std::uint32_t payload_bytes = 0;
    std::uint32_t payload_crc = 0;
  };

  struct Cursor {
    MessageId id = 0;
    std::uint32_t logical_offset = 0;
    std::uint32_t record_address = 0;
    bool valid = false;
  };

  // Who asks for space, which decides how much of the reserve it may use
  // (prepare_space). Copies never start another reclaim.
  enum class SpaceFor : std::uint8_t { new_mail, outcome, copy };

  // Mount.
  SpoolStatus read_sector_headers();
  void retire_old_sectors(std::uint32_t retired_sequence);
  void find_log_ends();
  void replay_sector(std::uint32_t sector);
  void replay_record(std::uint32_t address, const RecordHeader& header);
  void replay_commit(std::uint32_t address, const RecordHeader& header);
  void replay_outcome(std::uint32_t address, const RecordHeader& header);
  void replay_attempt(std::uint32_t address, const RecordHeader& header);
  SpoolStatus seal_head_unless_blank();
  SpoolStatus format();

  // The log.
  SpoolStatus prepare_space(std::uint32_t record_bytes, SpaceFor purpose);
  SpoolStatus make_room();
  SpoolStatus start_sector(std::uint32_t sector);
  SpoolStatus record_erase_intent();
  SpoolStatus write_record(std::uint8_t type, MessageId id, std::uint32_t payload_bytes,
                           std::uint32_t* address_out = nullptr);
  SpoolStatus append_record(std::uint8_t type, MessageId id, std::span<const std::uint8_t> payload,
                            SpaceFor purpose, std::uint32_t* address_out = nullptr);
  bool read_header(std::uint32_t address, RecordHeader& header);
  bool next_record_of(MessageId id, std::uint32_t& address, RecordHeader& header);
  bool sector_blank(std::uint32_t sector, std::uint32_t from_offset);
  std::uint32_t free_sectors() const;
  std::uint32_t free_bytes() const;
  void drop_dead_tail();

  // Reclaim.
  SpoolStatus copy_tail_forward();
  bool copy_plan_pays_off() const;
  std::uint32_t dead_sectors_after(std::uint32_t sector) const;
  std::uint32_t copy_bytes(const IndexEntry& entry) const;
  std::uint32_t largest_record_bytes(const IndexEntry& entry) const;
  SpoolStatus copy_message(IndexEntry& entry);
  SpoolStatus copy_envelope(const IndexEntry& entry, std::uint32_t& begin_address, std::uint32_t& envelope_crc);
  SpoolStatus copy_attempt(IndexEntry& entry);

  // Messages.
  SpoolStatus write_commit(MessageId id, std::uint32_t begin_address, const IndexEntry& shape, SpaceFor purpose,
                           std::uint32_t* address_out);
  SpoolStatus flush_writer(Writer& writer);
  SpoolStatus record_outcome(IndexEntry& entry, std::uint32_t mask, RecipientOutcome outcome);
  void apply_outcome(IndexEntry& entry, std::uint32_t mask, RecipientOutcome outcome);
  bool load_envelope(IndexEntry& entry);
  bool verify_message(IndexEntry& entry);
  bool deliverable(IndexEntry& entry);
  IndexEntry* find(MessageId id);
  IndexEntry* free_entry();
  void move_begin(IndexEntry& entry, std::uint32_t begin_address);
  void release_entry(IndexEntry& entry);
  void forget_cursors(MessageId id);
  std::uint8_t mailbox_number_of(std::string_view mailbox) const;
  std::uint32_t sector_of(std::uint32_t address) const { return address / sector_bytes_; }
  std::uint32_t align(std::uint32_t bytes) const;

  hal::Flash& flash_;
  const MailboxDirectory& mailboxes_;
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
  std::array<Sector, PIGEON_SPOOL_MAX_SECTORS> sectors_{};
  std::array<IndexEntry, PIGEON_SPOOL_MAX_MESSAGES> index_{};
  std::array<Writer, PIGEON_SPOOL_WRITERS> writers_{};
  std::array<Cursor, PIGEON_POP3_SESSIONS + 2> cursors_{};
  std::size_t next_cursor_ = 0;
};

}  // namespace pigeon
