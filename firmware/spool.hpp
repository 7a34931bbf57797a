// The spool: a log-structured ring of flash sectors that holds every accepted
// message until each recipient is done with it (docs/architecture.md §5). The on-flash
// format, the commit rule and the recovery algorithm are docs/spool-format.md.
// Layers, each on the one below: spool_format.hpp (the codecs), spool_log.hpp
// (sectors, head and tail, records), spool_index.hpp (the RAM index, rebuilt
// from the log at mount), and this class: messages, their writers, outcomes
// and the queries of POP3 and the relay. Mount is spool_mount.cpp, reclaim
// spool_reclaim.cpp.
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
#include <utility>

#include "hal/flash.hpp"
#include "hal/log.hpp"
#include "pigeon_limits.hpp"
#include "spool_index.hpp"
#include "spool_log.hpp"

namespace pigeon {

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

// Recipients of one message by index: bit r is recipient r.
using RecipientSet = spool_format::RecipientSet;

// What IMAP keeps of a message for one user: its flags and folder
// (docs/spool-format.md §3.7).
using MailboxState = spool_format::MailboxState;

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
  std::uint32_t arrived_s = 0;  // wall clock; 0 when unknown (IMAP's INTERNALDATE)
  // Of a LiveMailboxView: another session removed it, and the view keeps its
  // place (its id only) until the owner takes it out (Spool::take_vanished).
  bool vanished = false;
};

// POP3's view of a mailbox, taken when a session locks it: RFC 1939 keeps a
// maildrop's messages and their numbers fixed for the session. It holds the
// mailbox's deliverable messages up to the newest one then, oldest first, and
// the spool answers from its index: a few bytes per session however large the
// mailbox (Spool::view_mailbox, Spool::view_entry).
class MailboxView {
 public:
  std::size_t size() const { return count_; }

 private:
  friend class Spool;
  std::uint8_t mailbox_ = 0;
  std::uint8_t folder_ = MailboxState::inbox;  // its messages were written into this folder (§3.7)
  MessageId last_id_ = 0;  // the newest message in the view
  std::size_t count_ = 0;
  // Messages being written when the view was taken: they may commit later
  // with ids below last_id_, and stay out of it (0: no writer).
  std::array<MessageId, PIGEON_SPOOL_WRITERS> written_then_{};
  // The message looked up last, so that a walk in order costs a step per message.
  std::size_t cursor_index_ = 0;
  MessageId cursor_id_ = 0;  // 0: none (ids start at 1)
};

// IMAP's view of a mailbox, which lives with it (docs/imap.md): it takes in
// new mail when its owner asks (Spool::extend_view), and a message another
// session removes keeps its place, as an id, until the owner has told its
// client (Spool::take_vanished): RFC 3501 §7.4.1 renumbers messages only
// through EXPUNGE responses. The spool tells every watched view of a removal
// from its mailbox as it records it (Spool::watch). A few hundred bytes
// however large the mailbox.
class LiveMailboxView {
 public:
  std::size_t size() const { return view_.size(); }
  // More removals came than the view can keep places for: its numbers are
  // wrong from now on, and its owner must end the session (RFC 3501 §7.1.5 BYE).
  bool lost_track() const { return lost_track_; }

 private:
  friend class Spool;
  MailboxView view_;  // its count includes the vanished messages
  std::size_t max_messages_ = 0;
  std::array<MessageId, PIGEON_IMAP_VANISHED> vanished_{};  // ascending
  std::size_t vanished_count_ = 0;
  bool lost_track_ = false;
  // Another session changed the mailbox state of a message of the view
  // (Spool::take_state_changes): which one, its owner finds by comparing.
  bool states_changed_ = false;
};

// A committed message that still owes at least one recipient to the smarthost.
struct OutboundMessage {
  MessageId id = 0;
  std::uint32_t size_bytes = 0;
  bool body_8bit = false;
  std::uint8_t recipient_count = 0;
  // Bit r set: recipient r is not local and has no outcome yet.
  RecipientSet owed_remote_mask;
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
  Spool(hal::Flash& flash, const MailboxDirectory& mailboxes) : log_(flash), mailboxes_(mailboxes) {}

  // Rebuilds the index from the log; formats flash that holds no spool, with
  // `uid_validity_at_format` (spool_format::uid_validity_at_format(); tests
  // that do not look at it take 1). Its walk reads each sector header once and
  // each record header once; an outcome of a message without a detail reads
  // that message's commit and envelope again (docs/spool-format.md §5).
  // Programs nothing unless it formats.
  SpoolStatus mount(std::uint32_t uid_validity_at_format = spool_format::unversioned_uid_validity);
  // What the last mount could not take in: committed messages beyond the
  // index or, owing the smarthost, beyond the table of details (a build with
  // smaller ones, an outcome lost to a bit flip, or outcomes settled without
  // their record when the spool was full). They stay on flash but are neither
  // listed nor relayed.
  struct MountReport {
    std::uint32_t messages_not_indexed = 0;
    MessageId first_not_indexed = 0;
  };
  const MountReport& mount_report() const { return mount_report_; }
  // Writes the report to `log` as an error when a message was not indexed.
  void log_mount_report(hal::Log& log) const;

  // Writing a message: open, append the body in any pieces, commit (or
  // discard). full / too_many mean 452 4.3.1; the spool is unchanged for every
  // other message. A message with a recipient to relay onward takes a
  // DeliveryDetail until the smarthost has them all (too_many when none is
  // free; the last one is kept for delivery reports, the null reverse-path's,
  // so that bouncing mail, which frees details, never waits for one).
  // open_message() writes the recipients into the begin record
  // (at most PIGEON_SPOOL_INLINE_RECIPIENTS), and with them `state`, the flags
  // and folder of its local recipients (an IMAP APPEND's), so that no power
  // cut shows the message without them (docs/spool-format.md §3.7).
  SpoolStatus open_message(const SpoolEnvelope& envelope, SpoolWriter& writer, MailboxState state = {});
  // The same for an envelope whose recipients come one at a time, each onto
  // flash as it is accepted (`envelope.recipients` is empty): the SMTP
  // session's, so that its RAM does not grow with them (docs/spool-format.md
  // §3.6). add_recipient() gives each the next index; all before the body.
  // too_many past PIGEON_MAX_RECIPIENTS or for the first recipient relayed
  // onward when no detail is free; full, aborted and flash_error as for
  // append(). A recipient counts only once the message commits.
  SpoolStatus open_streamed(const SpoolEnvelope& envelope, SpoolWriter& writer);
  SpoolStatus add_recipient(const SpoolWriter& writer, const SpoolRecipient& recipient);
  SpoolStatus append(const SpoolWriter& writer, std::span<const std::uint8_t> bytes);
  // Programs the commit record and reads it back. Durable after sync().
  SpoolStatus commit(const SpoolWriter& writer);
  // Also after `aborted`: the writer's slot is free again only then.
  void discard(const SpoolWriter& writer);
  // One open message may take at most this share of the flash new mail can
  // use (all but the reserve); append() answers too_big beyond it. So one
  // connection cannot fill the spool by itself (docs/security.md).
  void set_writer_share_percent(std::uint32_t percent);
  std::uint32_t writer_limit_bytes() const;
  // The durability point for every commit and outcome since the last sync.
  SpoolStatus sync();

  // POP3: the committed messages of a mailbox that it has not deleted and whose
  // CRCs check out, oldest first; returns how many were written to `out`.
  // IMAP folders: `folder` (docs/spool-format.md §3.7); POP3 sees INBOX.
  std::size_t list_mailbox(std::string_view mailbox, std::span<MaildropEntry> out,
                           std::uint8_t folder = MailboxState::inbox);
  // ... as a view that stays fixed while new mail arrives: at most
  // `max_messages` of them, the oldest.
  MailboxView view_mailbox(std::string_view mailbox, std::size_t max_messages,
                           std::uint8_t folder = MailboxState::inbox);
  // The view's message at `index` (0 is the oldest); nullopt past its end or
  // when the message left the spool (only the view's own deletions make it).
  // In order, or from the last index looked up onwards, a step per message.
  std::optional<MaildropEntry> view_entry(MailboxView& view, std::size_t index);

  // IMAP: `view` becomes the view of `mailbox` (at most `max_messages`, the
  // oldest) and is told of removals until unwatch(); it must not move
  // meanwhile. One view per IMAP session.
  void watch(LiveMailboxView& view, std::string_view mailbox, std::size_t max_messages,
             std::uint8_t folder = MailboxState::inbox);
  void unwatch(LiveMailboxView& view);
  // Takes in the messages committed since, up to the view's limit: those
  // above its newest, as far as no message below them is still being written
  // (UIDs of new mail only ascend). Returns how many.
  std::size_t extend_view(LiveMailboxView& view);
  // As view_entry(), vanished messages included; the last one is found from
  // the end.
  std::optional<MaildropEntry> view_entry(LiveMailboxView& view, std::size_t index);
  // A vanished message's place, which leaves the view (later ones move down).
  std::optional<std::size_t> take_vanished(LiveMailboxView& view);
  // The view's owner expunges its message at `index`: mark_deleted(), and the
  // message leaves this view at once and the other views' later.
  SpoolStatus remove_from_view(LiveMailboxView& view, std::size_t index);
  // The id the next message will get: above every id given so far, across
  // restarts (docs/spool-format.md §2), so IMAP can predict UIDNEXT.
  MessageId next_message_id() const { return log_.next_message_id(); }
  // IMAP's UIDVALIDITY of those ids: chosen when the spool was formatted and
  // kept for its life (docs/spool-format.md §2.1).
  std::uint32_t uid_validity() const { return log_.uid_validity(); }
  // Message bytes from `offset`: how many, 0 at the end; nullopt when they
  // cannot be read (a flash error, or the message is gone), so that no caller
  // takes a truncated message for a whole one.
  std::optional<std::size_t> read(MessageId id, std::uint32_t offset, std::span<std::uint8_t> out);
  // Records that `mailbox` deleted the message (a committed POP3 session):
  // outcome `deleted` for each of its recipients that is this mailbox.
  SpoolStatus mark_deleted(MessageId id, std::string_view mailbox);

  // Relay: the committed message with the smallest id above `after` that owes
  // a recipient to the smarthost and whose CRCs check out. Iterate with
  // `after` = the previous id, starting from 0.
  std::optional<OutboundMessage> next_outbound(MessageId after);
  // The oldest message still being written. Ids are given when a message is
  // opened, but messages commit in any order: one may still commit below ids
  // that are committed already.
  std::optional<MessageId> oldest_open_message() const;
  // The envelope as stored on flash, copied into `out`; nullopt when the id is
  // unknown, the index out of range, `out` too small, or the envelope corrupt.
  // The sender is empty for the null reverse-path <>.
  std::optional<std::string_view> read_sender(MessageId id, std::span<char> out);
  std::optional<std::string_view> read_recipient(MessageId id, std::uint8_t recipient_index,
                                                 std::span<char> out);
  // Records the outcome of one recipient. A recipient that already has an
  // outcome keeps it (returns ok). When every recipient has one, the message is
  // dead and its space is reclaimed. `full`: not even the reserve had room for
  // the record; the recipient is settled in the index anyway, so the message
  // may be relayed again after a power cut (docs/spool-format.md §7).
  SpoolStatus mark_recipient(MessageId id, std::uint8_t recipient_index, RecipientOutcome outcome);
  // Records a temporary failure of the recipients in `recipients_mask` of a
  // message that owes the smarthost (not_found otherwise); the latest one of
  // a message counts. Durable after sync(); losing it to a power
  // cut only means the next retry comes sooner.
  SpoolStatus record_attempt(MessageId id, const RecipientSet& recipients_mask, const SpoolAttempt& attempt);

  // IMAP: the flags and folder of a message for the user `mailbox`, kept per
  // recipient (docs/spool-format.md §3.7): those of its lowest recipient in
  // that mailbox. nullopt when the message is not the user's, or its records
  // cannot be read.
  std::optional<MailboxState> mailbox_state(MessageId id, std::string_view mailbox);
  // Records the user's new flags of the message in a mailbox state record,
  // which carries the other recipients' states on. A message's folder is the
  // one it was written with (open_message): IMAP's COPY and MOVE write a new
  // message, so that views need no flash read to find their messages.
  // Durable after sync(). Flags with \Deleted may take the reserve, as
  // outcomes do: that is how a user frees space; other changes are refused
  // when only the reserve is left. Every watched view of the mailbox that
  // shows the message, but `setter`'s, is told (take_state_changes).
  SpoolStatus set_mailbox_flags(MessageId id, std::string_view mailbox, std::uint8_t flags,
                                const LiveMailboxView* setter = nullptr);
  // True once after a state of a message of the view was changed by another
  // session (RFC 9051 §7.5.2: its client hears of it at its next NOOP).
  static bool take_state_changes(LiveMailboxView& view) { return std::exchange(view.states_changed_, false); }

  struct Usage {
    std::uint32_t messages;      // committed and not dead
    std::uint32_t free_sectors;  // not in the log (erased, or dead and not yet erased)
    std::uint32_t sector_count;
  };
  Usage usage() const;

  // Since mount: tail sectors freed by copying their live messages forward
  // (docs/spool-format.md §7), and the messages copied. A sector that leaves
  // the log with nothing live in it is no reclaim; erases are the flash's count.
  struct ReclaimCounters {
    std::uint32_t sectors = 0;
    std::uint32_t messages_copied = 0;
  };
  const ReclaimCounters& reclaim_counters() const { return reclaim_counters_; }
  // Since mount: outcomes settled in the index without their record, the
  // spool being full (record_outcome). Each such recipient may be relayed
  // once more after a power cut.
  std::uint32_t unrecorded_outcomes() const { return unrecorded_outcomes_; }

 private:
  using RecordHeader = spool_format::RecordHeader;
  using RecordType = spool_format::RecordType;

  // The mailbox number of a recipient relayed onward, and of a local name the
  // directory no longer knows (kept, never relayed, never listed).
  static constexpr std::uint8_t remote_mailbox = 0xFF;
  static constexpr std::uint8_t unknown_mailbox = 0xFE;
  static_assert(PIGEON_MAX_USERS <= 30, "an index entry keeps a bit per mailbox, and two more");
  // Details that only a delivery report may take (open_writer).
  static constexpr std::size_t details_kept_for_reports = 1;

  // A writer is free, writing its message, or aborted: reclaim needed the
  // sector where its message begins (docs/spool-format.md §7), and the slot
  // waits for its owner to learn that (`aborted` from append or commit) and
  // call discard().
  enum class WriterState : std::uint8_t { free, writing, aborted };
  struct Writer {
    WriterState state = WriterState::free;
    MessageId id = 0;
    IndexEntry* entry = nullptr;  // while writing
    std::uint16_t envelope_bytes = 0;  // for the commit record
    std::uint32_t envelope_crc = 0;
    std::uint32_t length = 0;
    std::uint32_t crc = 0;
    std::uint32_t records = 0;
    std::uint32_t buffered = 0;
    std::array<std::uint8_t, PIGEON_SPOOL_WRITE_BUFFER_BYTES> buffer{};
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

  // Mount (spool_mount.cpp).
  void replay_record(std::uint32_t address, const RecordHeader& header);
  void replay_commit(std::uint32_t address, const RecordHeader& header);
  void replay_outcome(std::uint32_t address, const RecordHeader& header);
  void replay_attempt(std::uint32_t address, const RecordHeader& header);
  void replay_mailbox_state(std::uint32_t address, const RecordHeader& header);
  std::optional<DeliveryDetail> load_envelope(IndexEntry& entry, const spool_format::Commit& commit);
  void not_indexed(IndexEntry& entry);

  // Reclaim (spool_reclaim.cpp).
  SpoolStatus prepare_space(std::uint32_t record_bytes, SpaceFor purpose);
  SpoolStatus make_room();
  SpoolStatus copy_tail_forward();
  bool copy_plan_pays_off();
  // The flash a streamed message's recipient records take; nullopt when they cannot be read.
  std::optional<std::uint32_t> recipient_record_bytes(const IndexEntry& entry);
  // The most flash the records of a copy of a message can take, and the largest of them.
  struct CopyCost {
    std::uint32_t bytes = 0;
    std::uint32_t largest_record_bytes = 0;
  };
  CopyCost copy_cost(const IndexEntry& entry);
  SpoolStatus copy_message(IndexEntry& entry);
  SpoolStatus copy_envelope(const IndexEntry& entry, const spool_format::Commit& commit,
                            const spool_format::RecipientOutcomes& outcomes, std::uint32_t& begin_address,
                            std::uint32_t& envelope_crc);
  SpoolStatus copy_latest(RecordType type, MessageId id, std::uint32_t& address);
  SpoolStatus copy_outcomes(const IndexEntry& entry, const spool_format::RecipientOutcomes& outcomes);

  // Messages.
  SpoolStatus open_writer(const SpoolEnvelope& envelope, bool streamed, MailboxState state, SpoolWriter& handle);
  SpoolStatus append_record(RecordType type, MessageId id, std::span<const std::uint8_t> payload, SpaceFor purpose,
                            std::uint32_t* address_out = nullptr);
  SpoolStatus write_commit(MessageId id, const spool_format::Commit& commit, SpaceFor purpose,
                           std::uint32_t& address_out);
  bool commit_reads_back(std::uint32_t address, MessageId id);
  SpoolStatus prepare_for_writer(const Writer& writer, std::uint32_t payload_bytes);
  SpoolStatus flush_writer(Writer& writer);
  Writer* writer_of(const SpoolWriter& handle);
  SpoolStatus writing_status(const Writer* writer) const;
  void abort_writer_of(IndexEntry& entry);
  SpoolStatus record_outcome(IndexEntry& entry, const RecipientSet& recipients, RecipientOutcome outcome,
                             bool settle_when_full);
  // `commit`, when given, is the entry's, already read (mount reads each record header once).
  std::optional<spool_format::Envelope> read_envelope(const IndexEntry& entry,
                                                      const spool_format::Commit* commit = nullptr);
  // The commit record of a committed message.
  std::optional<spool_format::Commit> read_commit(const IndexEntry& entry);
  // A detail for `entry`, which has none; false when none is free.
  bool take_detail(IndexEntry& entry);
  bool detail_free(bool for_report) const;
  DeliveryDetail* detail_of(const IndexEntry& entry);
  bool verify_message(IndexEntry& entry);
  bool deliverable(IndexEntry& entry);
  IndexEntry* find_committed(MessageId id);
  void move_begin(IndexEntry& entry, std::uint32_t begin_address);
  void release_entry(IndexEntry& entry);
  void forget_cursors(MessageId id);
  std::uint8_t mailbox_number_of(std::string_view mailbox) const;
  // The bit of a mailbox number in IndexEntry::owed_mailboxes.
  static std::uint32_t mailbox_bit(std::uint8_t mailbox);
  // The outcome of every recipient of a committed message: its detail's or,
  // without one, spelt out from its owed mailboxes and its envelope. nullopt
  // when the envelope cannot be read.
  std::optional<spool_format::RecipientOutcomes> outcomes_of(const IndexEntry& entry);
  // What `outcomes` make of the entry: its owed mailboxes, and whether only a
  // detail can hold them: the smarthost is owed, or a mailbox has recipients
  // both owed and done. nullopt when the envelope cannot be read.
  struct Settlement {
    std::uint32_t owed_mailboxes = 0;
    bool needs_detail = false;
  };
  std::optional<Settlement> settlement(const IndexEntry& entry, const spool_format::RecipientOutcomes& outcomes,
                                      const spool_format::Commit* commit = nullptr);
  // Brings the entry to `settlement`, taking or returning its detail; false
  // (the entry unchanged) when it needs a detail and none is free.
  bool settle(IndexEntry& entry, const Settlement& settlement, const spool_format::RecipientOutcomes& outcomes);
  // Calls visit(index, recipient) for every recipient of `entry`, from the
  // begin's list or, for a streamed envelope, its recipient records (each
  // recipient's views last until the next read). False when the envelope or
  // a recipient record cannot be read, or the records do not number the
  // entry's recipients in order.
  // One copy of the walk for all its callers (flash is short on the board):
  // a visitor calls the caller's function through a pointer.
  class RecipientVisitor {
   public:
    template <class Function>
    RecipientVisitor(const Function& function)  // NOLINT: made from the callers' lambdas
        : function_(&function), call_([](const void* f, std::uint8_t r, const spool_format::EnvelopeRecipient& to) {
            (*static_cast<const Function*>(f))(r, to);
          }) {}
    void operator()(std::uint8_t r, const spool_format::EnvelopeRecipient& to) const { call_(function_, r, to); }

   private:
    const void* function_;
    void (*call_)(const void*, std::uint8_t, const spool_format::EnvelopeRecipient&);
  };
  bool visit_recipients(const IndexEntry& entry, RecipientVisitor visit, const spool_format::Commit* commit = nullptr);
  // The recipients of `entry` in `mailbox` (a number), whatever their state,
  // from the envelope on flash; nullopt when it cannot be read.
  std::optional<RecipientSet> recipients_in(const IndexEntry& entry, std::uint8_t mailbox);
  static RecipientSet owed_recipients(const spool_format::RecipientOutcomes& outcomes, std::uint8_t recipient_count);
  // The lowest recipient of `entry` in `mailbox` (a user's number); nullopt
  // when it has none there or the envelope cannot be read.
  std::optional<std::uint8_t> first_recipient_in(const IndexEntry& entry, std::uint8_t mailbox);
  std::optional<spool_format::MailboxStates> read_mailbox_states(const IndexEntry& entry);
  // Committed, owed to `mailbox` (a number) and deliverable: a POP3 listing's message.
  bool listed_in(IndexEntry& entry, std::uint8_t mailbox);
  static bool within(const MailboxView& view, MessageId id);
  bool in_view(const MailboxView& view, IndexEntry& entry);
  std::optional<MaildropEntry> entry_at(MailboxView& view, std::span<const MessageId> vanished, std::size_t index);
  std::optional<MaildropEntry> last_entry(LiveMailboxView& view);
  SpoolStatus delete_for(IndexEntry& entry, std::uint8_t mailbox, const LiveMailboxView* remover);
  void note_removal(MessageId id, std::uint8_t mailbox, std::uint8_t folder, const LiveMailboxView* remover);
  void note_state_change(MessageId id, std::uint8_t mailbox, std::uint8_t folder, const LiveMailboxView* setter);
  static bool watches(const LiveMailboxView* live, MessageId id, std::uint8_t mailbox, std::uint8_t folder);
  // The folder a message was written with, for all its users (§3.7).
  static std::uint8_t folder_of(const IndexEntry& entry) {
    return static_cast<std::uint8_t>(entry.begin_state >> MailboxState::folder_shift);
  }
  bool shown_in(const MailboxView& view, IndexEntry& entry);

  SpoolLog log_;
  MessageIndex index_;
  DetailTable details_;
  const MailboxDirectory& mailboxes_;
  MountReport mount_report_;
  std::array<Writer, PIGEON_SPOOL_WRITERS> writers_{};
  std::uint32_t writer_share_percent_ = 100;
  std::array<Cursor, PIGEON_POP3_SESSIONS + 2> cursors_{};
  std::array<LiveMailboxView*, PIGEON_IMAP_SESSIONS> watchers_{};
  std::size_t next_cursor_ = 0;
  ReclaimCounters reclaim_counters_;
  std::uint32_t unrecorded_outcomes_ = 0;
};

}  // namespace pigeon
