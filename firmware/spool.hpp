// The spool: a log-structured ring of flash sectors that holds every accepted
// message until each recipient is done with it (DESIGN.md §5). The on-flash
// format is docs/spool-format.md; this file follows it. The RAM index is
// rebuilt from the log at mount.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "hal/flash.hpp"
#include "pigeon_limits.hpp"

#ifndef PIGEON_SPOOL_MAX_MESSAGES
#define PIGEON_SPOOL_MAX_MESSAGES 256
#endif
#ifndef PIGEON_SPOOL_MAX_SECTORS
#define PIGEON_SPOOL_MAX_SECTORS 1024
#endif
#ifndef PIGEON_SPOOL_WRITE_BUFFER_BYTES
#define PIGEON_SPOOL_WRITE_BUFFER_BYTES 1024
#endif
#ifndef PIGEON_SPOOL_WRITERS
#define PIGEON_SPOOL_WRITERS PIGEON_SMTP_SESSIONS
#endif

namespace pigeon {

enum class SpoolStatus : std::uint8_t {
  ok,
  full,          // no room for the record: 452 4.3.1
  too_many,      // the index has no free entry: 452 4.3.1 as well
  corrupt,       // a CRC did not match: the message is never delivered
  not_found,
  flash_error,
};

using MessageId = std::uint32_t;

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
};

struct MaildropEntry {
  MessageId id = 0;
  std::uint32_t size_bytes = 0;
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

  // Rebuilds the index from the log; formats flash that holds no spool.
  SpoolStatus mount();

  SpoolStatus open_message(const SpoolEnvelope& envelope, SpoolWriter& writer);
  SpoolStatus append(const SpoolWriter& writer, std::span<const std::uint8_t> bytes);
  // Programs the commit record and reads it back. Durable after sync().
  SpoolStatus commit(const SpoolWriter& writer);
  void discard(const SpoolWriter& writer);
  // The durability point for every commit and deletion since the last sync.
  SpoolStatus sync();

  // The committed messages of a mailbox that are not deleted and whose CRCs
  // check out, oldest first; returns how many were written to `out`.
  std::size_t list_mailbox(std::string_view mailbox, std::span<MaildropEntry> out);
  // Message bytes from `offset`; 0 at the end or on error.
  std::size_t read(MessageId id, std::uint32_t offset, std::span<std::uint8_t> out);
  // Records that `mailbox` deleted the message (a committed POP3 session).
  SpoolStatus mark_deleted(MessageId id, std::string_view mailbox);

  struct Usage {
    std::uint32_t messages;
    std::uint32_t free_sectors;
    std::uint32_t sector_count;
  };
  Usage usage() const;

 private:
  static constexpr std::uint8_t remote_mailbox = 0xFF;

  struct IndexEntry {
    MessageId id = 0;
    std::uint32_t begin_address = 0;
    std::uint32_t size_bytes = 0;
    std::uint32_t crc = 0;
    std::uint8_t recipient_count = 0;
    bool used = false;
    bool committed = false;
    bool verified = false;
    std::array<std::uint8_t, PIGEON_MAX_RECIPIENTS> mailbox{};
    std::uint32_t done_mask = 0;  // bit per recipient: delivered or deleted
    bool dead() const { return committed && done_mask == (1ull << recipient_count) - 1; }
  };
  static_assert(PIGEON_MAX_RECIPIENTS <= 32, "done_mask has one bit per recipient");

  struct Writer {
    bool open = false;
    std::uint32_t index_slot = 0;
    std::uint32_t length = 0;
    std::uint32_t crc = 0;
    std::uint32_t buffered = 0;
    std::array<std::uint8_t, PIGEON_SPOOL_WRITE_BUFFER_BYTES> buffer{};
  };

  struct Sector {
    std::uint32_t sequence = 0;
    std::uint32_t erase_count = 0;
    std::uint32_t live_begins = 0;  // messages that begin here and are not dead
    bool in_log = false;            // holds a valid header
  };

  struct RecordHeader;
  struct Cursor {
    MessageId id = 0;
    std::uint32_t logical_offset = 0;
    std::uint32_t record_address = 0;
    bool valid = false;
  };

  SpoolStatus format();
  SpoolStatus start_sector(std::uint32_t sector);
  SpoolStatus append_record(std::uint8_t type, MessageId id, std::span<const std::uint8_t> payload,
                            std::uint32_t* address_out = nullptr);
  SpoolStatus advance_head();
  void reclaim();
  SpoolStatus flush_writer(Writer& writer);
  bool read_header(std::uint32_t address, RecordHeader& header);
  std::uint32_t next_record_address(std::uint32_t address, const RecordHeader& header) const;
  std::optional<std::uint32_t> next_address_after_sector(std::uint32_t sector) const;
  void replay_sector(std::uint32_t sector);
  void replay_record(std::uint32_t address, const RecordHeader& header);
  bool verify_message(IndexEntry& entry);
  IndexEntry* find(MessageId id);
  IndexEntry* free_entry();
  void release_entry(IndexEntry& entry);
  std::uint32_t sector_of(std::uint32_t address) const { return address / sector_bytes_; }
  std::uint32_t align(std::uint32_t bytes) const;

  hal::Flash& flash_;
  const MailboxDirectory& mailboxes_;
  std::uint32_t sector_bytes_ = 0;
  std::uint32_t sector_count_ = 0;
  std::uint32_t unit_bytes_ = 0;
  std::uint32_t head_sector_ = 0;
  std::uint32_t head_offset_ = 0;  // next free byte in the head sector
  std::uint32_t tail_sector_ = 0;  // the oldest sector of the log
  std::uint32_t next_sequence_ = 0;
  MessageId next_id_ = 1;
  std::array<Sector, PIGEON_SPOOL_MAX_SECTORS> sectors_{};
  std::array<IndexEntry, PIGEON_SPOOL_MAX_MESSAGES> index_{};
  std::array<Writer, PIGEON_SPOOL_WRITERS> writers_{};
  std::array<Cursor, PIGEON_POP3_SESSIONS + 1> cursors_{};
  std::size_t next_cursor_ = 0;
};

}  // namespace pigeon
