// Reclaim (docs/spool-format.md §7): when the head needs a sector and no more
// than the reserve is free, the live messages of the oldest sector are copied
// to the head, so that it leaves the log.
#include <algorithm>

#include "crc32.hpp"
#include "protocol/assert.hpp"
#include "spool.hpp"

namespace pigeon {

namespace format = spool_format;

// Makes room for a record of `record_bytes` at the head. New mail (commits
// included) leaves the reserve free: reclaim needs it to copy the tail. Outcomes,
// which make space reclaimable, and the copies, which free more than they take,
// may use it all.
SpoolStatus Spool::prepare_space(std::uint32_t record_bytes, SpaceFor purpose) {
  if (!log_.fits_in_head(record_bytes) && purpose != SpaceFor::copy) {
    if (const SpoolStatus status = make_room(); status != SpoolStatus::ok) return status;
  }
  return log_.prepare(record_bytes, purpose == SpaceFor::new_mail ? PIGEON_SPOOL_RESERVE_SECTORS : 0);
}

// Copies the live messages of the oldest sector forward while no more than the
// reserve is free and each copy frees more than it takes.
SpoolStatus Spool::make_room() {
  for (std::uint32_t attempt = 0;
       attempt < log_.sector_count() && log_.free_sectors() <= PIGEON_SPOOL_RESERVE_SECTORS; ++attempt) {
    const SpoolStatus status = copy_tail_forward();
    if (status == SpoolStatus::full) break;  // nothing worth copying: the caller decides
    if (status != SpoolStatus::ok) return status;
  }
  return SpoolStatus::ok;
}

// Copies the live messages that begin in the tail sector when that is safe
// and part of a plan worth it: copying the messages of the first k sectors of
// the log fits in the free space and takes less than those k sectors and the
// dead ones right behind them free. Free space therefore grows over the plan;
// the next calls carry it on. A message still being written there is aborted,
// not copied: it was never acknowledged, and an open message must not pin
// the ring (a client that drips its DATA would stop all mail).
SpoolStatus Spool::copy_tail_forward() {
  const std::uint32_t tail = log_.tail_sector();
  if (tail == log_.head_sector() || !copy_plan_pays_off()) return SpoolStatus::full;
  for (IndexEntry& entry : index_.slots()) {
    if (entry.state == EntryState::unused || log_.sector_of(entry.begin_address) != tail) continue;
    if (entry.state == EntryState::writing) {
      abort_writer_of(entry);
      continue;
    }
    if (const SpoolStatus status = copy_message(entry); status != SpoolStatus::ok) return status;
  }
  log_.drop_dead_tail();
  if (log_.tail_sector() == tail) return SpoolStatus::full;
  ++reclaim_counters_.sectors;
  return SpoolStatus::ok;
}

bool Spool::copy_plan_pays_off() {
  const std::uint32_t usable = log_.usable_sector_bytes();
  std::uint32_t records = 0, largest = 0, sectors = 0;
  for (std::uint32_t s = log_.tail_sector(); s != log_.head_sector(); s = log_.following(s)) {
    // The entries in use, not every slot: a host index has 32,768.
    for (std::size_t rank = 0; rank < index_.size(); ++rank) {
      const IndexEntry& entry = index_.by_rank(rank);
      // An open message is aborted, not copied (copy_tail_forward).
      if (entry.state != EntryState::committed || log_.sector_of(entry.begin_address) != s) continue;
      const CopyCost cost = copy_cost(entry);
      records += cost.bytes;
      largest = std::max(largest, cost.largest_record_bytes);
    }
    ++sectors;
    // Each sector the copies cross loses less than their largest record at its end.
    const std::uint32_t needed = records + (records / usable + 1) * largest;
    if (needed > log_.free_bytes()) return false;
    if (needed < (sectors + log_.dead_sectors_after(s)) * usable) return true;
  }
  return false;
}

// Read from its commit record and, when streamed, its recipient records.
// Nothing when they cannot be read: such a message is dropped, not copied
// (copy_message).
Spool::CopyCost Spool::copy_cost(const IndexEntry& entry) {
  const auto commit = read_commit(entry);
  if (!commit) return {};
  const std::optional<std::uint32_t> recipient_records = entry.streamed ? recipient_record_bytes(entry) : 0;
  if (!recipient_records) return {};
  const DeliveryDetail* detail = detail_of(entry);
  const std::uint32_t attempt =
      detail != nullptr && detail->attempt_address != 0 ? log_.record_bytes(format::Attempt::max_bytes) : 0;
  const std::uint32_t state = entry.state_address != 0 ? log_.record_bytes(format::MailboxStates::max_bytes) : 0;
  // A streamed envelope's recipient records, and the outcome records (one per
  // outcome code) that carry its outcomes after the copy's commit.
  const std::uint32_t streamed =
      entry.streamed ? *recipient_records + 3 * log_.record_bytes(format::Outcome::max_bytes) : 0;
  const std::uint32_t bytes = log_.record_bytes(commit->envelope_bytes) +
                              commit->data_records * log_.record_bytes(PIGEON_SPOOL_WRITE_BUFFER_BYTES) +
                              log_.record_bytes(format::Commit::bytes) + attempt + state + streamed;
  const std::uint32_t largest =
      std::max({log_.record_bytes(commit->envelope_bytes), log_.record_bytes(PIGEON_SPOOL_WRITE_BUFFER_BYTES),
                entry.streamed ? log_.record_bytes(spool_max_recipient_record_bytes) : 0});
  return {bytes, largest};
}

// Begin (carrying the outcomes so far), recipient records, data, commit: the
// copy takes over when its commit is on flash; until then the original stands.
SpoolStatus Spool::copy_message(IndexEntry& entry) {
  if (!deliverable(entry)) {
    release_entry(entry);  // never deliverable: not worth the flash
    return SpoolStatus::ok;
  }
  const auto commit = read_commit(entry);
  const auto outcomes = outcomes_of(entry);
  if (!commit || !outcomes) return SpoolStatus::flash_error;  // deliverable() read them
  std::uint32_t begin_address = 0, envelope_crc = 0;
  if (const SpoolStatus status = copy_envelope(entry, *commit, *outcomes, begin_address, envelope_crc);
      status != SpoolStatus::ok) {
    return status;
  }
  std::uint32_t records = 0, body_bytes = 0;
  std::uint32_t address = entry.begin_address;
  for (std::optional<RecordHeader> header; (header = log_.next_record_of(entry.id, address)) &&
                                           header->type != RecordType::commit;
       address = log_.next_address(address, *header)) {
    const bool copied = header->type == RecordType::data || header->type == RecordType::recipient;
    if (!copied) continue;
    if (const SpoolStatus status = prepare_space(log_.record_bytes(header->payload_bytes), SpaceFor::copy);
        status != SpoolStatus::ok) {
      return status;
    }
    const auto payload = log_.read_payload(address, *header);
    if (!payload) return SpoolStatus::flash_error;
    if (const SpoolStatus status = log_.append(header->type, entry.id, *payload); status != SpoolStatus::ok) {
      return status;
    }
    if (header->type == RecordType::recipient) continue;
    ++records;
    body_bytes += header->payload_bytes;
  }
  // deliverable() checked these very records against the commit.
  const bool copied_whole = body_bytes == entry.size_bytes;
  PIGEON_ASSERT(copied_whole);
  format::Commit copy = *commit;
  copy.begin_address = begin_address;
  copy.envelope_crc = envelope_crc;
  copy.data_records = records;
  std::uint32_t commit_address = 0;
  if (const SpoolStatus status = write_commit(entry.id, copy, SpaceFor::copy, commit_address);
      status != SpoolStatus::ok) {
    return status;
  }
  move_begin(entry, begin_address);
  entry.commit_address = commit_address;
  ++reclaim_counters_.messages_copied;
  if (const SpoolStatus status = copy_outcomes(entry, *outcomes); status != SpoolStatus::ok) return status;
  // A message that owes the smarthost nothing has no attempt worth keeping.
  if (DeliveryDetail* detail = detail_of(entry)) {
    if (const SpoolStatus status = copy_latest(RecordType::attempt, entry.id, detail->attempt_address);
        status != SpoolStatus::ok) {
      return status;
    }
  }
  return copy_latest(RecordType::mailbox_state, entry.id, entry.state_address);
}

// A streamed begin keeps no outcomes (its recipients were not counted when it
// was written): the copy's outcome records follow its commit, one per outcome
// code. Mount keeps the original's outcomes for the copy (§5 step 2), and the
// original's sectors are erased only after a sync that makes these durable.
SpoolStatus Spool::copy_outcomes(const IndexEntry& entry, const format::RecipientOutcomes& outcomes) {
  if (!entry.streamed) return SpoolStatus::ok;
  for (std::uint8_t code = 1; code <= 3; ++code) {
    RecipientSet with_code;
    for (std::uint8_t r = 0; r < entry.recipient_count; ++r) with_code[r] = outcomes.code(r) == code;
    if (with_code.none()) continue;
    const format::MaskBytes mask = format::encode_mask(with_code);
    std::array<std::uint8_t, format::Outcome::max_bytes> payload{};
    const std::size_t length = format::Outcome{code, 0, mask.bytes()}.encode(payload);
    if (const SpoolStatus status =
            append_record(RecordType::outcome, entry.id, std::span(payload).first(length), SpaceFor::copy);
        status != SpoolStatus::ok) {
      return status;
    }
  }
  return SpoolStatus::ok;
}

// The latest attempt record and the latest mailbox state record go after the
// copy's commit, where replay finds the message already indexed. Until they
// are on flash the original's stand (§5 step 2); the copied begin also
// carries the attempt count and retry time, so losing an attempt record
// later costs only its reply text.
SpoolStatus Spool::copy_latest(RecordType type, MessageId id, std::uint32_t& address) {
  if (address == 0) return SpoolStatus::ok;
  const auto header = log_.read_header(address);
  if (!header) return SpoolStatus::ok;
  if (const SpoolStatus status = prepare_space(log_.record_bytes(header->payload_bytes), SpaceFor::copy);
      status != SpoolStatus::ok) {
    return status;
  }
  const auto payload = log_.read_payload(address, *header);
  if (!payload) {
    address = 0;
    return SpoolStatus::ok;
  }
  return log_.append(type, id, *payload, &address);
}

// The begin again, with the outcomes and attempt state known so far.
// A message without a detail keeps its begin's attempt state: it owes the
// smarthost nothing.
SpoolStatus Spool::copy_envelope(const IndexEntry& entry, const format::Commit& commit,
                                 const format::RecipientOutcomes& outcomes, std::uint32_t& begin_address,
                                 std::uint32_t& envelope_crc) {
  if (const SpoolStatus status = prepare_space(log_.record_bytes(commit.envelope_bytes), SpaceFor::copy);
      status != SpoolStatus::ok) {
    return status;
  }
  const auto payload = log_.read_payload(entry.begin_address, commit.envelope_bytes, commit.envelope_crc);
  if (!payload) return SpoolStatus::flash_error;
  std::optional<format::Envelope> envelope = format::Envelope::decode(payload->bytes);
  if (!envelope) return SpoolStatus::flash_error;
  envelope->outcomes = outcomes;
  if (const DeliveryDetail* detail = detail_of(entry)) {
    envelope->attempts = detail->attempts;
    envelope->next_retry_s = detail->next_retry_s;
  }
  const bool same_length = envelope->encode(payload->bytes) == payload->bytes.size();  // in place
  PIGEON_ASSERT(same_length);
  envelope_crc = crc32(payload->bytes);
  return log_.append(RecordType::begin, entry.id, *payload, &begin_address);
}

}  // namespace pigeon
