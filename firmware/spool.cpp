#include "spool.hpp"

#include <algorithm>
#include <cstring>

#include "crc32.hpp"
#include "protocol/assert.hpp"

namespace pigeon {
namespace {

namespace format = spool_format;

std::optional<std::uint32_t> envelope_payload_bytes(const SpoolEnvelope& envelope) {
  if (envelope.sender.size() > format::max_sender_bytes) return std::nullopt;
  std::size_t bytes = format::Envelope::fixed_bytes +
                      format::RecipientOutcomes::encoded_bytes(static_cast<std::uint32_t>(envelope.recipients.size())) +
                      envelope.sender.size();
  for (const SpoolRecipient& recipient : envelope.recipients) {
    if (recipient.address.size() > PIGEON_ENVELOPE_BYTES ||
        recipient.mailbox.size() > PIGEON_SPOOL_MAILBOX_NAME_BYTES) {
      return std::nullopt;
    }
    bytes += format::EnvelopeRecipient{recipient.address, recipient.mailbox}.encoded_bytes();
  }
  if (bytes > spool_max_envelope_bytes) return std::nullopt;
  return static_cast<std::uint32_t>(bytes);
}

// The begin payload of a new message: no outcomes and no attempts yet.
void encode_envelope(const SpoolEnvelope& envelope, bool streamed, MailboxState state, std::span<std::uint8_t> out) {
  format::Envelope head;
  head.flags = static_cast<std::uint8_t>((envelope.body_8bit ? format::Envelope::flag_8bit : 0) |
                                         (streamed ? format::Envelope::flag_streamed : 0));
  head.recipient_count = static_cast<std::uint8_t>(envelope.recipients.size());
  head.arrived_s = envelope.arrived_s;
  head.mailbox_state = state.encode();
  head.sender = envelope.sender;
  std::size_t at = head.encode(out);  // the fixed part and the sender: the list follows
  for (const SpoolRecipient& recipient : envelope.recipients) {
    at += format::EnvelopeRecipient{recipient.address, recipient.mailbox}.encode(out.subspan(at));
  }
  const bool as_measured = at == out.size();
  PIGEON_ASSERT(as_measured);
}

}  // namespace

std::size_t format_message_id(MessageId id, std::span<char> out) {
  constexpr std::string_view hex = "0123456789ABCDEF";
  if (out.size() < 8) return 0;
  for (std::size_t i = 0; i < 8; ++i) out[i] = hex[(id >> (28 - 4 * i)) & 0xF];
  return 8;
}

void Spool::log_mount_report(hal::Log& log) const {
  if (mount_report_.messages_not_indexed == 0) return;
  log.write(hal::LogLevel::error,
            "spool: %u committed messages do not fit in the index of %u (first %08X): kept on flash, not served",
            static_cast<unsigned>(mount_report_.messages_not_indexed), static_cast<unsigned>(MessageIndex::capacity),
            static_cast<unsigned>(mount_report_.first_not_indexed));
}

// ---------------------------------------------------------------------------
// Writing a message.

SpoolStatus Spool::open_message(const SpoolEnvelope& envelope, SpoolWriter& handle, MailboxState state) {
  if (envelope.recipients.empty() || envelope.recipients.size() > PIGEON_SPOOL_INLINE_RECIPIENTS) {
    return SpoolStatus::too_many;
  }
  return open_writer(envelope, false, state, handle);
}

SpoolStatus Spool::open_streamed(const SpoolEnvelope& envelope, SpoolWriter& handle) {
  const bool sender_only = envelope.recipients.empty();
  PIGEON_ASSERT(sender_only);
  return open_writer(envelope, true, {}, handle);
}

// Each recipient record is programmed before the next RCPT is answered; the
// message exists only with its commit, which counts them (§3.3, §3.6).
SpoolStatus Spool::add_recipient(const SpoolWriter& handle, const SpoolRecipient& recipient) {
  Writer* writer = writer_of(handle);
  if (const SpoolStatus status = writing_status(writer); status != SpoolStatus::ok) return status;
  IndexEntry& entry = *writer->entry;
  const bool before_the_body = entry.streamed && writer->length == 0 && writer->buffered == 0;
  PIGEON_ASSERT(before_the_body);
  if (entry.recipient_count == PIGEON_MAX_RECIPIENTS || recipient.address.size() > format::max_sender_bytes ||
      recipient.mailbox.size() > PIGEON_SPOOL_MAILBOX_NAME_BYTES) {
    return SpoolStatus::too_many;
  }
  const std::uint8_t mailbox = mailbox_number_of(recipient.mailbox);
  if (mailbox == remote_mailbox && !entry.has_detail && !detail_free(false)) return SpoolStatus::too_many;
  const format::RecipientRecord record{entry.recipient_count, 0, {recipient.address, recipient.mailbox}};
  std::array<std::uint8_t, spool_max_recipient_record_bytes> payload{};
  const std::size_t length = record.encode(payload);
  if (const SpoolStatus status = prepare_for_writer(*writer, static_cast<std::uint32_t>(length));
      status != SpoolStatus::ok) {
    return status;
  }
  if (const SpoolStatus status = log_.append(RecordType::recipient, writer->id, std::span(payload).first(length));
      status != SpoolStatus::ok) {
    return status;
  }
  // Making room only frees details: the one seen free above is still there.
  if (mailbox == remote_mailbox && !entry.has_detail) {
    const bool taken = take_detail(entry);
    PIGEON_ASSERT(taken);
  }
  ++entry.recipient_count;
  entry.owed_mailboxes |= mailbox_bit(mailbox);
  return SpoolStatus::ok;
}

SpoolStatus Spool::open_writer(const SpoolEnvelope& envelope, bool streamed, MailboxState state,
                               SpoolWriter& handle) {
  const auto payload_bytes = envelope_payload_bytes(envelope);
  const auto writer = std::find_if(writers_.begin(), writers_.end(),
                                   [](const Writer& w) { return w.state == WriterState::free; });
  const bool relayed = std::any_of(envelope.recipients.begin(), envelope.recipients.end(),
                                   [&](const SpoolRecipient& r) { return mailbox_number_of(r.mailbox) == remote_mailbox; });
  if (!payload_bytes || writer == writers_.end() || index_.size() == MessageIndex::capacity ||
      (relayed && !detail_free(envelope.sender.empty()))) {
    return SpoolStatus::too_many;
  }
  if (const SpoolStatus status = prepare_space(log_.record_bytes(*payload_bytes), SpaceFor::new_mail);
      status != SpoolStatus::ok) {
    return status;
  }
  // Built only now, in the scratch: making room may have used it for copies.
  const SpoolLog::ScratchPayload payload = log_.draft(*payload_bytes);
  encode_envelope(envelope, streamed, state, payload.bytes);
  const std::uint32_t envelope_crc = crc32(payload.bytes);
  const MessageId id = log_.next_message_id();
  if (id == UINT32_MAX) return SpoolStatus::too_many;  // ids are never reused: they must not wrap
  std::uint32_t address = 0;
  if (const SpoolStatus status = log_.append(RecordType::begin, id, payload, &address); status != SpoolStatus::ok) {
    return status;
  }
  log_.saw_message_id(id);
  IndexEntry* entry = index_.insert(id);
  const bool indexed = entry != nullptr;  // there was room, and making room only frees entries
  PIGEON_ASSERT(indexed);
  entry->body_8bit = envelope.body_8bit;
  entry->streamed = streamed;
  entry->recipient_count = static_cast<std::uint8_t>(envelope.recipients.size());
  entry->begin_address = address;
  entry->arrived_s = envelope.arrived_s;
  entry->begin_state = state.encode();
  for (const SpoolRecipient& recipient : envelope.recipients) {
    entry->owed_mailboxes |= mailbox_bit(mailbox_number_of(recipient.mailbox));
  }
  if (relayed) {
    const bool taken = take_detail(*entry);  // making room only frees details
    PIGEON_ASSERT(taken);
  }
  log_.add_begin(address);
  *writer = Writer{};
  writer->state = WriterState::writing;
  writer->id = id;
  writer->entry = entry;
  writer->envelope_bytes = static_cast<std::uint16_t>(*payload_bytes);
  writer->envelope_crc = envelope_crc;
  handle.slot_ = static_cast<std::uint8_t>(writer - writers_.begin());
  handle.id_ = id;
  return SpoolStatus::ok;
}

// The writer behind a handle, while the handle's message is open or aborted;
// nullptr once it was committed or discarded.
Spool::Writer* Spool::writer_of(const SpoolWriter& handle) {
  const bool a_writer = handle.slot_ < writers_.size();
  PIGEON_ASSERT(a_writer);
  Writer& writer = writers_[handle.slot_];
  if (writer.state == WriterState::free || writer.id != handle.id_) return nullptr;
  const bool entry_matches = writer.state == WriterState::aborted ||
                             (writer.entry->id == writer.id && writer.entry->state == EntryState::writing);
  PIGEON_ASSERT(entry_matches);
  return &writer;
}

// ok while the writer may go on writing its message.
SpoolStatus Spool::writing_status(const Writer* writer) const {
  if (writer == nullptr) return SpoolStatus::not_found;
  return writer->state == WriterState::writing ? SpoolStatus::ok : SpoolStatus::aborted;
}

// Reclaim needs the sector where `entry`, an open message, begins: the
// message goes, and its writer learns it at its next append or commit. Never
// acknowledged, so nothing promised is lost (docs/spool-format.md §7).
void Spool::abort_writer_of(IndexEntry& entry) {
  const auto writer = std::find_if(writers_.begin(), writers_.end(), [&](const Writer& w) {
    return w.state == WriterState::writing && w.entry == &entry;
  });
  const bool has_writer = writer != writers_.end();
  PIGEON_ASSERT(has_writer);
  writer->state = WriterState::aborted;
  writer->entry = nullptr;
  release_entry(entry);
}

void Spool::set_writer_share_percent(std::uint32_t percent) {
  const bool a_share = percent >= 1 && percent <= 100;
  PIGEON_ASSERT(a_share);
  writer_share_percent_ = percent;
}

std::uint32_t Spool::writer_limit_bytes() const {
  // Flash addresses are 32 bits, so the spool's size is; a hundredth first keeps the product there.
  const std::uint32_t usable = (log_.sector_count() - PIGEON_SPOOL_RESERVE_SECTORS) * log_.usable_sector_bytes();
  return usable / 100 * writer_share_percent_;
}

SpoolStatus Spool::append(const SpoolWriter& handle, std::span<const std::uint8_t> bytes) {
  Writer* writer = writer_of(handle);
  if (const SpoolStatus status = writing_status(writer); status != SpoolStatus::ok) return status;
  if (bytes.size() > writer_limit_bytes() - std::min(writer_limit_bytes(), writer->length + writer->buffered)) {
    return SpoolStatus::too_big;
  }
  while (!bytes.empty()) {
    const std::size_t take = std::min<std::size_t>(bytes.size(), writer->buffer.size() - writer->buffered);
    std::memcpy(writer->buffer.data() + writer->buffered, bytes.data(), take);
    writer->buffered += static_cast<std::uint32_t>(take);
    bytes = bytes.subspan(take);
    if (writer->buffered == writer->buffer.size()) {
      if (const SpoolStatus status = flush_writer(*writer); status != SpoolStatus::ok) return status;
    }
  }
  return SpoolStatus::ok;
}

// Making room may abort this very writer (its message begins in the tail):
// then nothing more of its message may be programmed.
SpoolStatus Spool::prepare_for_writer(const Writer& writer, std::uint32_t payload_bytes) {
  if (const SpoolStatus status = prepare_space(log_.record_bytes(payload_bytes), SpaceFor::new_mail);
      status != SpoolStatus::ok) {
    return status;
  }
  return writing_status(&writer);
}

SpoolStatus Spool::flush_writer(Writer& writer) {
  if (writer.buffered == 0) return SpoolStatus::ok;
  if (const SpoolStatus status = prepare_for_writer(writer, writer.buffered); status != SpoolStatus::ok) return status;
  const std::span<const std::uint8_t> piece(writer.buffer.data(), writer.buffered);
  if (const SpoolStatus status = log_.append(RecordType::data, writer.id, piece); status != SpoolStatus::ok) {
    return status;
  }
  const bool length_fits = writer.length <= UINT32_MAX - writer.buffered;  // the format's limit; the relay's is far lower
  PIGEON_ASSERT(length_fits);
  writer.crc = crc32(piece, writer.crc);
  writer.length += writer.buffered;
  ++writer.records;
  writer.buffered = 0;
  return SpoolStatus::ok;
}

SpoolStatus Spool::commit(const SpoolWriter& handle) {
  Writer* writer = writer_of(handle);
  SpoolStatus status = writing_status(writer);
  if (status == SpoolStatus::ok) status = flush_writer(*writer);
  if (status == SpoolStatus::ok) status = prepare_for_writer(*writer, format::Commit::bytes);
  std::uint32_t address = 0;
  if (status == SpoolStatus::ok) {
    IndexEntry& entry = *writer->entry;
    const bool has_recipients = entry.recipient_count > 0;  // a streamed one is given them before its body
    PIGEON_ASSERT(has_recipients);
    entry.size_bytes = writer->length;
    const format::Commit record{entry.begin_address,
                                writer->envelope_crc,
                                writer->length,
                                writer->crc,
                                writer->records,
                                writer->envelope_bytes,
                                static_cast<std::uint8_t>(entry.streamed ? entry.recipient_count : 0)};
    status = write_commit(entry.id, record, SpaceFor::new_mail, address);
    // Read the commit record back: the 250 must not rest on a failed program.
    if (status == SpoolStatus::ok && !commit_reads_back(address, entry.id)) status = SpoolStatus::flash_error;
  }
  if (status != SpoolStatus::ok) {
    discard(handle);
    return status;
  }
  writer->entry->state = EntryState::committed;
  writer->entry->commit_address = address;
  writer->entry->verified = true;  // its pieces are what the writer computed the CRC over
  writer->state = WriterState::free;
  return SpoolStatus::ok;
}

bool Spool::commit_reads_back(std::uint32_t address, MessageId id) {
  const auto header = log_.read_header(address);
  return header && header->type == RecordType::commit && header->message_id == id &&
         log_.read_payload(address, *header).has_value();
}

void Spool::discard(const SpoolWriter& handle) {
  Writer* writer = writer_of(handle);
  if (writer == nullptr) return;
  if (writer->state == WriterState::writing) {
    release_entry(*writer->entry);
    log_.drop_dead_tail();
  }
  writer->state = WriterState::free;
}

SpoolStatus Spool::sync() { return log_.sync(); }

SpoolStatus Spool::append_record(RecordType type, MessageId id, std::span<const std::uint8_t> payload,
                                 SpaceFor purpose, std::uint32_t* address_out) {
  if (const SpoolStatus status = prepare_space(log_.record_bytes(static_cast<std::uint32_t>(payload.size())), purpose);
      status != SpoolStatus::ok) {
    return status;
  }
  return log_.append(type, id, payload, address_out);
}

SpoolStatus Spool::write_commit(MessageId id, const format::Commit& commit, SpaceFor purpose,
                                std::uint32_t& address_out) {
  std::array<std::uint8_t, format::Commit::bytes> payload{};
  commit.encode(payload);
  return append_record(RecordType::commit, id, payload, purpose, &address_out);
}

// ---------------------------------------------------------------------------
// The index and the messages' records.

std::uint8_t Spool::mailbox_number_of(std::string_view mailbox) const {
  if (mailbox.empty()) return remote_mailbox;
  return mailboxes_.mailbox_number(mailbox).value_or(unknown_mailbox);
}

std::uint32_t Spool::mailbox_bit(std::uint8_t mailbox) {
  if (mailbox == remote_mailbox) return 1u << 31;
  if (mailbox == unknown_mailbox) return 1u << 30;
  const bool a_user = mailbox < PIGEON_MAX_USERS;
  PIGEON_ASSERT(a_user);
  return 1u << mailbox;
}

RecipientSet Spool::owed_recipients(const format::RecipientOutcomes& outcomes, std::uint8_t recipient_count) {
  RecipientSet owed;
  for (std::uint8_t r = 0; r < recipient_count; ++r) owed[r] = outcomes.owed(r);
  return owed;
}

bool Spool::visit_recipients(const IndexEntry& entry, RecipientVisitor visit, const format::Commit* commit) {
  if (!entry.streamed) {
    const auto envelope = read_envelope(entry, commit);
    if (!envelope) return false;
    envelope->for_each_recipient(visit);
    return true;
  }
  // The recipient records follow the begin, before the body (§3.6).
  std::uint8_t next = 0;
  std::uint32_t address = entry.begin_address;
  const auto begin = log_.read_header(address);
  if (!begin) return false;
  address = log_.next_address(address, *begin);
  for (std::optional<RecordHeader> header; next < entry.recipient_count &&
                                           (header = log_.next_record_of(entry.id, address)) &&
                                           header->type == RecordType::recipient;
       address = log_.next_address(address, *header)) {
    const auto record = log_.read_decoded<format::RecipientRecord>(address, *header);
    if (!record || record->index != next) return false;
    visit(next++, record->recipient);
  }
  return next == entry.recipient_count;
}

std::optional<RecipientSet> Spool::recipients_in(const IndexEntry& entry, std::uint8_t mailbox) {
  RecipientSet found;
  const bool read = visit_recipients(entry, [&](std::uint8_t r, const format::EnvelopeRecipient& recipient) {
    found[r] = mailbox_number_of(recipient.mailbox) == mailbox;
  });
  if (!read) return std::nullopt;
  return found;
}

// A settled recipient of a message without a detail keeps the code its begin
// record gives it, if any: one settled since was relayed (the smarthost's) or
// deleted (a mailbox's). A bounce shows as relayed in a copy made after the
// message's last remote outcome; only the inspector shows codes.
std::optional<format::RecipientOutcomes> Spool::outcomes_of(const IndexEntry& entry) {
  if (const DeliveryDetail* detail = detail_of(entry)) return detail->outcomes;
  format::RecipientOutcomes from_begin;  // a streamed begin has none
  if (!entry.streamed) {
    const auto envelope = read_envelope(entry);
    if (!envelope) return std::nullopt;
    from_begin = envelope->outcomes;
  }
  format::RecipientOutcomes outcomes;
  const bool read = visit_recipients(entry, [&](std::uint8_t r, const format::EnvelopeRecipient& recipient) {
    const std::uint8_t mailbox = mailbox_number_of(recipient.mailbox);
    if ((entry.owed_mailboxes & mailbox_bit(mailbox)) != 0) return;
    RecipientSet one;
    one[r] = true;
    const auto settled = static_cast<std::uint8_t>(mailbox == remote_mailbox ? RecipientOutcome::relayed
                                                                             : RecipientOutcome::deleted);
    outcomes.record(one, from_begin.owed(r) ? settled : from_begin.code(r), entry.recipient_count);
  });
  if (!read) return std::nullopt;
  return outcomes;
}

std::optional<std::uint32_t> Spool::recipient_record_bytes(const IndexEntry& entry) {
  std::uint32_t bytes = 0;
  const bool read = visit_recipients(entry, [&](std::uint8_t, const format::EnvelopeRecipient& recipient) {
    bytes += log_.record_bytes(static_cast<std::uint32_t>(format::RecipientRecord::fixed_bytes + recipient.encoded_bytes()));
  });
  if (!read) return std::nullopt;
  return bytes;
}

std::optional<Spool::Settlement> Spool::settlement(const IndexEntry& entry, const format::RecipientOutcomes& outcomes,
                                                   const format::Commit* commit) {
  std::uint32_t owed = 0, done = 0;
  const bool read = visit_recipients(
      entry,
      [&](std::uint8_t r, const format::EnvelopeRecipient& recipient) {
        (outcomes.owed(r) ? owed : done) |= mailbox_bit(mailbox_number_of(recipient.mailbox));
      },
      commit);
  if (!read) return std::nullopt;
  return Settlement{owed, (owed & mailbox_bit(remote_mailbox)) != 0 || (owed & done) != 0};
}

bool Spool::settle(IndexEntry& entry, const Settlement& settlement, const format::RecipientOutcomes& outcomes) {
  if (settlement.needs_detail && !entry.has_detail && !take_detail(entry)) return false;
  if (entry.has_detail && !settlement.needs_detail) {
    details_.release(entry.id);
    entry.has_detail = false;
  }
  if (DeliveryDetail* detail = detail_of(entry)) detail->outcomes = outcomes;
  entry.owed_mailboxes = settlement.owed_mailboxes;
  return true;
}

bool Spool::take_detail(IndexEntry& entry) {
  if (details_.take(entry.id) == nullptr) return false;
  entry.has_detail = true;
  return true;
}

bool Spool::detail_free(bool for_report) const {
  return details_.free_count() > (for_report ? 0 : details_kept_for_reports);
}

DeliveryDetail* Spool::detail_of(const IndexEntry& entry) {
  if (!entry.has_detail) return nullptr;
  DeliveryDetail* detail = details_.find(entry.id);
  const bool found = detail != nullptr;
  PIGEON_ASSERT(found);
  return detail;
}

IndexEntry* Spool::find_committed(MessageId id) {
  IndexEntry* entry = index_.find(id);
  return entry != nullptr && entry->state == EntryState::committed ? entry : nullptr;
}

// The envelope as on flash, in the log's scratch (valid until it is used again);
// its CRC must match the one its commit names.
std::optional<spool_format::Envelope> Spool::read_envelope(const IndexEntry& entry, const format::Commit* commit) {
  const auto read = commit != nullptr ? std::optional(*commit) : read_commit(entry);
  if (!read) return std::nullopt;
  return log_.read_decoded<format::Envelope>(entry.begin_address, read->envelope_bytes, read->envelope_crc);
}

std::optional<spool_format::Commit> Spool::read_commit(const IndexEntry& entry) {
  if (entry.state != EntryState::committed) return std::nullopt;
  const auto header = log_.read_header(entry.commit_address);
  if (!header || header->type != RecordType::commit || header->message_id != entry.id) return std::nullopt;
  return log_.read_decoded<format::Commit>(entry.commit_address, *header);
}

void Spool::move_begin(IndexEntry& entry, std::uint32_t begin_address) {
  log_.remove_begin(entry.begin_address);
  log_.add_begin(begin_address);
  entry.begin_address = begin_address;
  forget_cursors(entry.id);
}

// Frees the entry; the caller drops dead tail sectors when the log is whole
// (not during replay, where later commits may still point into them).
void Spool::release_entry(IndexEntry& entry) {
  const bool in_use = entry.state != EntryState::unused;
  PIGEON_ASSERT(in_use);
  log_.remove_begin(entry.begin_address);
  forget_cursors(entry.id);
  if (entry.has_detail) details_.release(entry.id);
  index_.remove(entry);
}

void Spool::forget_cursors(MessageId id) {
  for (Cursor& cursor : cursors_) {
    if (cursor.valid && cursor.id == id) cursor.valid = false;
  }
}

// Walks the message's records: each data payload must match its CRC, and all
// of them together the length and CRC of the commit record.
bool Spool::verify_message(IndexEntry& entry) {
  const auto commit = read_commit(entry);
  if (!commit) return false;
  std::uint32_t length = 0, crc = 0;
  std::uint32_t address = entry.begin_address;
  for (std::optional<RecordHeader> header; (header = log_.next_record_of(entry.id, address));
       address = log_.next_address(address, *header)) {
    if (header->type == RecordType::commit) return length == commit->body_bytes && crc == commit->body_crc;
    if (header->type != RecordType::data) continue;
    const auto piece = log_.read_payload(address, *header);
    if (!piece) return false;
    crc = crc32(piece->bytes, crc);
    length += header->payload_bytes;
  }
  return false;
}

bool Spool::deliverable(IndexEntry& entry) {
  if (entry.state != EntryState::committed || entry.corrupt) return false;
  if (!entry.verified) {
    entry.verified = verify_message(entry);
    entry.corrupt = !entry.verified;
  }
  return entry.verified;
}

// ---------------------------------------------------------------------------
// POP3 and the relay.

bool Spool::listed_in(IndexEntry& entry, std::uint8_t mailbox) {
  return entry.state == EntryState::committed && (entry.owed_mailboxes & mailbox_bit(mailbox)) != 0 &&
         deliverable(entry);
}

std::size_t Spool::list_mailbox(std::string_view mailbox, std::span<MaildropEntry> out, std::uint8_t folder) {
  MailboxView view = view_mailbox(mailbox, out.size(), folder);
  for (std::size_t index = 0; index < view.size(); ++index) {
    const std::optional<MaildropEntry> entry = view_entry(view, index);
    const bool in_view = entry.has_value();  // nothing left the spool in between
    PIGEON_ASSERT(in_view);
    out[index] = *entry;
  }
  return view.size();
}

// Not newer than the view, and not one being written when it was taken.
bool Spool::within(const MailboxView& view, MessageId id) {
  const auto& then = view.written_then_;
  return id <= view.last_id_ && std::find(then.begin(), then.end(), id) == then.end();
}

// A message of the view: within it and listed.
bool Spool::in_view(const MailboxView& view, IndexEntry& entry) {
  return within(view, entry.id) && shown_in(view, entry);
}

// Listed in the view's mailbox, and in its folder.
bool Spool::shown_in(const MailboxView& view, IndexEntry& entry) {
  return folder_of(entry) == view.folder_ && listed_in(entry, view.mailbox_);
}

MailboxView Spool::view_mailbox(std::string_view mailbox, std::size_t max_messages, std::uint8_t folder) {
  MailboxView view;
  view.mailbox_ = mailbox_number_of(mailbox);
  view.folder_ = folder;
  if (view.mailbox_ == remote_mailbox || view.mailbox_ == unknown_mailbox) return view;
  for (std::size_t w = 0; w < writers_.size(); ++w) {
    if (writers_[w].state == WriterState::writing) view.written_then_[w] = writers_[w].id;
  }
  // One pass in id order, which is oldest first; it verifies each message once.
  for (std::size_t rank = 0; rank < index_.size() && view.count_ < max_messages; ++rank) {
    IndexEntry& entry = index_.by_rank(rank);
    if (!shown_in(view, entry)) continue;
    view.last_id_ = entry.id;
    ++view.count_;
  }
  return view;
}

std::optional<MaildropEntry> Spool::view_entry(MailboxView& view, std::size_t index) {
  return entry_at(view, {}, index);
}

// The live messages of the view and its vanished ones (ascending ids), merged
// in id order: from the message looked up last while it is still in the view
// and not past `index`; else from the oldest.
std::optional<MaildropEntry> Spool::entry_at(MailboxView& view, std::span<const MessageId> vanished,
                                             std::size_t index) {
  if (index >= view.count_) return std::nullopt;
  std::size_t rank = 0, position = 0, gone = 0;
  IndexEntry* cursor = view.cursor_id_ != 0 ? index_.find(view.cursor_id_) : nullptr;
  if (cursor != nullptr && view.cursor_index_ <= index && in_view(view, *cursor)) {
    rank = index_.rank_after(view.cursor_id_) - 1;
    position = view.cursor_index_;
    // The vanished ones below the cursor are counted in its position.
    gone = static_cast<std::size_t>(std::lower_bound(vanished.begin(), vanished.end(), view.cursor_id_) -
                                    vanished.begin());
  }
  const auto vanished_at = [&](std::size_t at) { return MaildropEntry{vanished[at], 0, 0, true}; };
  for (; rank < index_.size(); ++rank) {
    IndexEntry& entry = index_.by_rank(rank);
    if (entry.id > view.last_id_) break;
    if (!in_view(view, entry)) continue;
    for (; gone < vanished.size() && vanished[gone] < entry.id; ++gone, ++position) {
      if (position == index) return vanished_at(gone);
    }
    if (position == index) {
      view.cursor_index_ = index;
      view.cursor_id_ = entry.id;
      return MaildropEntry{entry.id, entry.size_bytes, entry.arrived_s};
    }
    ++position;
  }
  for (; gone < vanished.size(); ++gone, ++position) {
    if (position == index) return vanished_at(gone);
  }
  return std::nullopt;
}

void Spool::watch(LiveMailboxView& view, std::string_view mailbox, std::size_t max_messages, std::uint8_t folder) {
  unwatch(view);
  view = LiveMailboxView{};
  view.view_ = view_mailbox(mailbox, max_messages, folder);
  view.max_messages_ = max_messages;
  const auto free = std::find(watchers_.begin(), watchers_.end(), nullptr);
  const bool one_per_session = free != watchers_.end();
  PIGEON_ASSERT(one_per_session);
  *free = &view;
}

void Spool::unwatch(LiveMailboxView& view) {
  std::replace(watchers_.begin(), watchers_.end(), &view, static_cast<LiveMailboxView*>(nullptr));
}

std::size_t Spool::extend_view(LiveMailboxView& live) {
  MailboxView& view = live.view_;
  if (view.mailbox_ == remote_mailbox || view.mailbox_ == unknown_mailbox) return 0;
  // Writers above the newest message have finished when anything above them is taken in.
  for (MessageId& id : view.written_then_) {
    if (id > view.last_id_) id = 0;
  }
  MessageId open = 0;  // the oldest message above the view still being written
  for (const Writer& writer : writers_) {
    if (writer.state == WriterState::writing && writer.id > view.last_id_ && (open == 0 || writer.id < open)) {
      open = writer.id;
    }
  }
  std::size_t added = 0;
  for (std::size_t rank = index_.rank_after(view.last_id_); rank < index_.size(); ++rank) {
    IndexEntry& entry = index_.by_rank(rank);
    if (view.count_ == live.max_messages_ || (open != 0 && entry.id > open)) break;
    if (!shown_in(view, entry)) continue;
    view.last_id_ = entry.id;
    ++view.count_;
    ++added;
  }
  return added;
}

std::optional<MaildropEntry> Spool::view_entry(LiveMailboxView& view, std::size_t index) {
  const std::span<const MessageId> vanished = std::span(view.vanished_).first(view.vanished_count_);
  if (index + 1 == view.view_.count_) return last_entry(view);
  return entry_at(view.view_, vanished, index);
}

// The newest message of the view (IMAP's "*"), a walk back from its newest id.
std::optional<MaildropEntry> Spool::last_entry(LiveMailboxView& live) {
  const MailboxView& view = live.view_;
  if (view.count_ == 0) return std::nullopt;
  const MessageId newest_vanished = live.vanished_count_ == 0 ? 0 : live.vanished_[live.vanished_count_ - 1];
  for (std::size_t rank = index_.rank_after(view.last_id_); rank-- > 0;) {
    IndexEntry& entry = index_.by_rank(rank);
    if (entry.id < newest_vanished) break;
    if (in_view(view, entry)) return MaildropEntry{entry.id, entry.size_bytes, entry.arrived_s};
  }
  if (newest_vanished == 0) return std::nullopt;
  return MaildropEntry{newest_vanished, 0, 0, true};
}

std::optional<std::size_t> Spool::take_vanished(LiveMailboxView& live) {
  if (live.vanished_count_ == 0) return std::nullopt;
  MailboxView& view = live.view_;
  const MessageId id = live.vanished_[0];
  std::size_t position = 0;
  for (std::size_t rank = 0; rank < index_.size(); ++rank) {
    IndexEntry& entry = index_.by_rank(rank);
    if (entry.id > id) break;
    if (in_view(view, entry)) ++position;
  }
  std::copy(live.vanished_.begin() + 1, live.vanished_.begin() + static_cast<std::ptrdiff_t>(live.vanished_count_),
            live.vanished_.begin());
  --live.vanished_count_;
  --view.count_;
  view.cursor_id_ = 0;  // the numbers after it moved
  return position;
}

SpoolStatus Spool::remove_from_view(LiveMailboxView& live, std::size_t index) {
  const std::optional<MaildropEntry> shown = view_entry(live, index);
  if (!shown || shown->vanished) return SpoolStatus::not_found;
  IndexEntry* entry = find_committed(shown->id);
  if (entry == nullptr) return SpoolStatus::not_found;
  const SpoolStatus status = delete_for(*entry, live.view_.mailbox_, &live);
  if (status != SpoolStatus::ok) return status;
  --live.view_.count_;
  live.view_.cursor_id_ = 0;
  return status;
}

// Every watched view of the mailbox but the remover's keeps the message's place.
void Spool::note_removal(MessageId id, std::uint8_t mailbox, std::uint8_t folder, const LiveMailboxView* remover) {
  for (LiveMailboxView* live : watchers_) {
    if (live == remover || !watches(live, id, mailbox, folder)) continue;
    if (live->vanished_count_ == live->vanished_.size()) {
      live->lost_track_ = true;
      continue;
    }
    const auto end = live->vanished_.begin() + static_cast<std::ptrdiff_t>(live->vanished_count_);
    std::copy_backward(std::upper_bound(live->vanished_.begin(), end, id), end, end + 1);
    *std::upper_bound(live->vanished_.begin(), end, id) = id;
    ++live->vanished_count_;
  }
}

void Spool::note_state_change(MessageId id, std::uint8_t mailbox, std::uint8_t folder, const LiveMailboxView* setter) {
  for (LiveMailboxView* live : watchers_) {
    if (live != setter && watches(live, id, mailbox, folder)) live->states_changed_ = true;
  }
}

// A watched view that shows message `id` of `mailbox` in `folder`.
bool Spool::watches(const LiveMailboxView* live, MessageId id, std::uint8_t mailbox, std::uint8_t folder) {
  return live != nullptr && live->view_.mailbox_ == mailbox && live->view_.folder_ == folder &&
         within(live->view_, id);
}

std::optional<MessageId> Spool::oldest_open_message() const {
  // Ids ascend with rank: the first open one is the oldest.
  for (std::size_t rank = 0; rank < index_.size(); ++rank) {
    const IndexEntry& entry = index_.by_rank(rank);
    if (entry.state == EntryState::writing) return entry.id;
  }
  return std::nullopt;
}

std::optional<OutboundMessage> Spool::next_outbound(MessageId after) {
  for (std::size_t rank = index_.rank_after(after); rank < index_.size(); ++rank) {
    IndexEntry& entry = index_.by_rank(rank);
    if (entry.state != EntryState::committed) continue;
    if ((entry.owed_mailboxes & mailbox_bit(remote_mailbox)) == 0 || !deliverable(entry)) continue;
    const auto remote = recipients_in(entry, remote_mailbox);
    if (!remote) continue;
    const DeliveryDetail& detail = *detail_of(entry);  // the smarthost is owed
    return OutboundMessage{entry.id,
                           entry.size_bytes,
                           entry.body_8bit,
                           entry.recipient_count,
                           *remote & owed_recipients(detail.outcomes, entry.recipient_count),
                           entry.arrived_s,
                           detail.attempts,
                           detail.next_retry_s};
  }
  return std::nullopt;
}

std::optional<std::string_view> Spool::read_sender(MessageId id, std::span<char> out) {
  const IndexEntry* entry = find_committed(id);
  if (entry == nullptr) return std::nullopt;
  const auto envelope = read_envelope(*entry);
  if (!envelope || envelope->sender.size() > out.size()) return std::nullopt;
  std::copy(envelope->sender.begin(), envelope->sender.end(), out.begin());
  return std::string_view(out.data(), envelope->sender.size());
}

std::optional<std::string_view> Spool::read_recipient(MessageId id, std::uint8_t recipient_index,
                                                      std::span<char> out) {
  const IndexEntry* entry = find_committed(id);
  if (entry == nullptr || recipient_index >= entry->recipient_count) return std::nullopt;
  std::optional<std::string_view> found;
  const bool read = visit_recipients(*entry, [&](std::uint8_t r, const format::EnvelopeRecipient& recipient) {
    if (r != recipient_index || recipient.address.size() > out.size()) return;
    std::copy(recipient.address.begin(), recipient.address.end(), out.begin());
    found = std::string_view(out.data(), recipient.address.size());
  });
  return read ? found : std::nullopt;
}

std::optional<std::size_t> Spool::read(MessageId id, std::uint32_t offset, std::span<std::uint8_t> out) {
  const IndexEntry* entry = find_committed(id);
  if (entry == nullptr) return std::nullopt;
  if (offset >= entry->size_bytes || out.empty()) return 0;
  auto cursor = std::find_if(cursors_.begin(), cursors_.end(), [&](const Cursor& c) {
    return c.valid && c.id == id && c.logical_offset <= offset;
  });
  if (cursor == cursors_.end()) {
    cursor = cursors_.begin() + static_cast<std::ptrdiff_t>(next_cursor_);
    next_cursor_ = (next_cursor_ + 1) % cursors_.size();
    *cursor = Cursor{id, 0, entry->begin_address, true};
  }
  for (std::optional<RecordHeader> header;
       (header = log_.next_record_of(id, cursor->record_address)) && header->type != RecordType::commit;
       cursor->record_address = log_.next_address(cursor->record_address, *header)) {
    if (header->type != RecordType::data) continue;
    if (offset < cursor->logical_offset + header->payload_bytes) {
      const std::uint32_t within = offset - cursor->logical_offset;
      const std::size_t length = std::min<std::size_t>(out.size(), header->payload_bytes - within);
      if (!log_.read_payload_bytes(cursor->record_address, within, out.first(length))) return std::nullopt;
      return length;
    }
    cursor->logical_offset += header->payload_bytes;
  }
  return std::nullopt;  // the records end before the length the commit promised
}

// Outcome records may use the reserve: they are what lets space be reclaimed.
// Space comes back only when whole sectors at the tail are dead, and after a
// long outage the smarthost takes the queue back in retry order, not in log
// order: the outcomes can use up the reserve while every tail sector still
// holds a waiting message. A relayed or bounced recipient is then settled in
// the index all the same (`settle_when_full`), so that its message can die and
// its sectors be reclaimed; otherwise the spool stayed full of delivered mail
// for good, refusing all new mail (found by tools/simulate, long-outage).
// Such a message may be relayed once more after a power cut: at least once
// still holds. A POP3 deletion never settles without its record.
SpoolStatus Spool::record_outcome(IndexEntry& entry, const RecipientSet& recipients, RecipientOutcome outcome,
                                  bool settle_when_full) {
  const bool its_recipients =
      entry.state == EntryState::committed && recipients.any() && (recipients >> entry.recipient_count).none();
  PIGEON_ASSERT(its_recipients);
  const auto code = static_cast<std::uint8_t>(outcome);
  std::optional<format::RecipientOutcomes> outcomes = outcomes_of(entry);
  if (!outcomes) return SpoolStatus::flash_error;
  outcomes->record(recipients, code, entry.recipient_count);
  const std::optional<Settlement> settled = settlement(entry, *outcomes);
  if (!settled) return SpoolStatus::flash_error;
  // Only an outcome for some recipients of a mailbox needs a new detail.
  if (settled->needs_detail && !entry.has_detail && !detail_free(true)) return SpoolStatus::too_many;
  const format::MaskBytes mask = format::encode_mask(recipients);
  std::array<std::uint8_t, format::Outcome::max_bytes> payload{};
  const std::size_t length = format::Outcome{code, 0, mask.bytes()}.encode(payload);
  const SpoolStatus status =
      append_record(RecordType::outcome, entry.id, std::span(payload).first(length), SpaceFor::outcome);
  const bool settles_now = status == SpoolStatus::ok || (status == SpoolStatus::full && settle_when_full);
  if (!settles_now) return status;
  if (status != SpoolStatus::ok) ++unrecorded_outcomes_;
  // Making room only frees details, and copies keep the outcomes.
  const bool settles = settle(entry, *settled, *outcomes);
  PIGEON_ASSERT(settles);
  if (entry.dead()) {
    release_entry(entry);
    log_.drop_dead_tail();
  }
  return status;
}

SpoolStatus Spool::mark_recipient(MessageId id, std::uint8_t recipient_index, RecipientOutcome outcome) {
  IndexEntry* entry = find_committed(id);
  if (entry == nullptr || recipient_index >= entry->recipient_count) return SpoolStatus::not_found;
  const auto outcomes = outcomes_of(*entry);
  if (!outcomes) return SpoolStatus::flash_error;
  if (!outcomes->owed(recipient_index)) return SpoolStatus::ok;
  RecipientSet one;
  one[recipient_index] = true;
  return record_outcome(*entry, one, outcome, true);
}

SpoolStatus Spool::mark_deleted(MessageId id, std::string_view mailbox) {
  IndexEntry* entry = find_committed(id);
  const std::uint8_t number = mailbox_number_of(mailbox);
  if (entry == nullptr || number == remote_mailbox || number == unknown_mailbox) return SpoolStatus::not_found;
  return delete_for(*entry, number, nullptr);
}

SpoolStatus Spool::delete_for(IndexEntry& entry, std::uint8_t mailbox, const LiveMailboxView* remover) {
  const auto in_mailbox = recipients_in(entry, mailbox);
  if (!in_mailbox) return SpoolStatus::flash_error;
  if (in_mailbox->none()) return SpoolStatus::not_found;
  const auto outcomes = outcomes_of(entry);
  if (!outcomes) return SpoolStatus::flash_error;
  const RecipientSet owed = *in_mailbox & owed_recipients(*outcomes, entry.recipient_count);
  if (owed.none()) return SpoolStatus::ok;
  const bool listed = listed_in(entry, mailbox);
  const MessageId id = entry.id;  // the entry is gone when the message died
  const std::uint8_t folder = folder_of(entry);
  const SpoolStatus status = record_outcome(entry, owed, RecipientOutcome::deleted, false);
  if (status == SpoolStatus::ok && listed) note_removal(id, mailbox, folder, remover);
  return status;
}

SpoolStatus Spool::record_attempt(MessageId id, const RecipientSet& recipients_mask, const SpoolAttempt& attempt) {
  IndexEntry* entry = find_committed(id);
  if (entry == nullptr || !entry->has_detail) return SpoolStatus::not_found;
  const format::MaskBytes mask = format::encode_mask(recipients_mask);
  const format::Attempt record{attempt.attempts,
                               attempt.reply_code,
                               attempt.next_retry_s,
                               mask.bytes(),
                               attempt.enhanced.substr(0, format::Attempt::max_enhanced_bytes),
                               attempt.text.substr(0, format::Attempt::max_text_bytes)};
  std::array<std::uint8_t, format::Attempt::max_bytes> payload{};
  const std::size_t length = record.encode(payload);
  std::uint32_t address = 0;
  // Like new mail, never from the reserve: the record is advice, not a promise.
  if (const SpoolStatus status =
          append_record(RecordType::attempt, id, std::span(payload).first(length), SpaceFor::new_mail, &address);
      status != SpoolStatus::ok) {
    return status;
  }
  // Making room may have copied the message, never settled it.
  DeliveryDetail* detail = details_.find(id);
  const bool still_owed = detail != nullptr;
  PIGEON_ASSERT(still_owed);
  detail->attempts = attempt.attempts;
  detail->next_retry_s = attempt.next_retry_s;
  detail->attempt_address = address;
  return SpoolStatus::ok;
}

// ---------------------------------------------------------------------------
// IMAP's flags and folders (docs/spool-format.md §3.7).

std::optional<std::uint8_t> Spool::first_recipient_in(const IndexEntry& entry, std::uint8_t mailbox) {
  if (mailbox == remote_mailbox || mailbox == unknown_mailbox) return std::nullopt;
  const auto in_mailbox = recipients_in(entry, mailbox);
  if (!in_mailbox) return std::nullopt;
  for (std::uint8_t r = 0; r < entry.recipient_count; ++r) {
    if ((*in_mailbox)[r]) return r;
  }
  return std::nullopt;
}

// The latest mailbox state record, in the log's scratch.
std::optional<format::MailboxStates> Spool::read_mailbox_states(const IndexEntry& entry) {
  const auto header = log_.read_header(entry.state_address);
  if (!header || header->type != RecordType::mailbox_state || header->message_id != entry.id) return std::nullopt;
  return log_.read_decoded<format::MailboxStates>(entry.state_address, *header);
}

std::optional<MailboxState> Spool::mailbox_state(MessageId id, std::string_view mailbox) {
  const IndexEntry* entry = find_committed(id);
  if (entry == nullptr) return std::nullopt;
  const auto recipient = first_recipient_in(*entry, mailbox_number_of(mailbox));
  if (!recipient) return std::nullopt;
  const MailboxState from_begin = *MailboxState::decode(entry->begin_state);  // checked when the begin was read
  if (entry->state_address == 0) return from_begin;
  const auto states = read_mailbox_states(*entry);
  if (!states) return std::nullopt;
  return states->state_of(*recipient).value_or(from_begin);
}

// The new record names every recipient the latest one named, in order, with
// this user's recipient in its place: the latest record is the whole state.
SpoolStatus Spool::set_mailbox_flags(MessageId id, std::string_view mailbox, std::uint8_t flags,
                                     const LiveMailboxView* setter) {
  const IndexEntry* entry = find_committed(id);
  if (entry == nullptr) return SpoolStatus::not_found;
  const MailboxState state{static_cast<std::uint8_t>(flags & MailboxState::flag_bits), folder_of(*entry)};
  const std::uint8_t number = mailbox_number_of(mailbox);
  const auto recipient = first_recipient_in(*entry, number);
  if (!recipient) return SpoolStatus::not_found;
  std::array<std::uint8_t, 2 * PIGEON_MAX_RECIPIENTS> pairs{};
  std::size_t length = 0;
  const auto put = [&](std::uint8_t r, std::uint8_t byte) {
    pairs[length++] = r;
    pairs[length++] = byte;
  };
  bool placed = false;
  if (entry->state_address != 0) {
    const auto latest = read_mailbox_states(*entry);
    if (!latest) return SpoolStatus::flash_error;
    for (std::size_t at = 0; at < latest->pairs.size(); at += 2) {
      const std::uint8_t r = latest->pairs[at];
      if (!placed && r >= *recipient) {
        put(*recipient, state.encode());
        placed = true;
      }
      if (r != *recipient) put(r, latest->pairs[at + 1]);
    }
  }
  if (!placed) put(*recipient, state.encode());
  std::array<std::uint8_t, format::MailboxStates::max_bytes> payload{};
  const std::size_t payload_bytes =
      format::MailboxStates{static_cast<std::uint8_t>(length / 2), 0, std::span(pairs).first(length)}.encode(payload);
  const SpaceFor purpose = (state.flags & MailboxState::deleted) != 0 ? SpaceFor::outcome : SpaceFor::new_mail;
  std::uint32_t address = 0;
  if (const SpoolStatus status =
          append_record(RecordType::mailbox_state, id, std::span(payload).first(payload_bytes), purpose, &address);
      status != SpoolStatus::ok) {
    return status;
  }
  // Making room may have copied the message (and its previous state) forward.
  if (IndexEntry* now = find_committed(id)) now->state_address = address;
  note_state_change(id, number, state.folder, setter);
  return SpoolStatus::ok;
}

Spool::Usage Spool::usage() const {
  Usage usage{0, log_.free_sectors(), log_.sector_count()};
  for (std::size_t rank = 0; rank < index_.size(); ++rank) {
    usage.messages += index_.by_rank(rank).state == EntryState::committed ? 1 : 0;
  }
  return usage;
}

}  // namespace pigeon
