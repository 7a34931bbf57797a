// Mount (docs/spool-format.md §5): the log's sector headers once, then every
// record header once, rebuilding the spool's index. Programs nothing unless
// the flash holds no spool (then it formats).
#include <algorithm>

#include "spool.hpp"

namespace pigeon {

namespace format = spool_format;

// ---------------------------------------------------------------------------
// The log: step 1.

SpoolStatus SpoolLog::open() {
  const hal::FlashGeometry geometry = flash_.geometry();
  sector_bytes_ = geometry.sector_size_bytes;
  sector_count_ = std::min<std::uint32_t>(geometry.sector_count, PIGEON_SPOOL_MAX_SECTORS);
  unit_bytes_ = geometry.program_unit_bytes;
  if (unit_bytes_ == 0 || unit_bytes_ > format::max_unit_bytes || sector_bytes_ % unit_bytes_ != 0) {
    return SpoolStatus::flash_error;
  }
  data_offset_ = align(format::SectorHeader::bytes) + format::intent_slots * align(format::EraseIntent::bytes);
  if (sector_count_ < PIGEON_SPOOL_RESERVE_SECTORS + 2 ||
      data_offset_ + record_bytes(PIGEON_SPOOL_WRITE_BUFFER_BYTES) > sector_bytes_) {
    return SpoolStatus::flash_error;
  }
  sectors_ = {};
  next_id_ = 1;
  next_sequence_ = 1;
  log_sectors_ = 0;
  return read_sector_headers();
}

SpoolStatus SpoolLog::format(std::uint32_t uid_validity) {
  uid_validity_ = uid_validity;
  next_sequence_ = 1;
  log_sectors_ = 0;
  tail_sector_ = 0;
  return start_sector(0);
}

// Reads every sector's header and intent slots in one read per sector.
SpoolStatus SpoolLog::read_sector_headers() {
  std::array<std::uint8_t, format::max_unit_bytes * (1 + format::intent_slots)> region{};
  const std::uint32_t intents_at = align(format::SectorHeader::bytes);
  std::uint32_t retired = 0, most_erases = 0, newest_sequence = 0;
  std::array<std::uint32_t, PIGEON_SPOOL_MAX_SECTORS> intended_erases{};  // from the predecessor's intent
  for (std::uint32_t s = 0; s < sector_count_; ++s) {
    if (flash_.read(s * sector_bytes_, {region.data(), data_offset_}) != hal::FlashStatus::ok) {
      return SpoolStatus::flash_error;
    }
    Sector& sector = sectors_[s];
    const auto header = format::SectorHeader::decode(region);
    // A sequence that would wrap is no sequence this spool wrote.
    if (header && header->sector_bytes == sector_bytes_ && header->unit_bytes == unit_bytes_ &&
        header->sequence != UINT32_MAX) {
      sector.in_log = true;
      sector.sequence = header->sequence;
      sector.erase_count = header->erase_count;
      next_id_ = std::max(next_id_, header->next_message_id);
      retired = std::max(retired, header->retired_sequence);
      next_sequence_ = std::max(next_sequence_, sector.sequence + 1);
      most_erases = std::max(most_erases, sector.erase_count);
      // The head's, which every sector since the format has carried on (§2.1).
      if (header->sequence > newest_sequence) {
        newest_sequence = header->sequence;
        uid_validity_ = header->uid_validity;
      }
    }
    for (std::uint32_t slot = 0; slot < format::intent_slots; ++slot) {
      const std::span<const std::uint8_t> bytes =
          std::span(region).subspan(intents_at + slot * align(format::EraseIntent::bytes), format::EraseIntent::bytes);
      if (format::erased(bytes)) continue;
      sector.intents_written = static_cast<std::uint8_t>(slot + 1);  // even torn, a slot is used
      if (const auto intent = format::EraseIntent::decode(bytes)) {
        retired = std::max(retired, intent->retired_sequence);
        intended_erases[following(s)] = intent->next_erase_count;
      }
    }
  }
  // A sector whose header is gone lost its erase count with it: take the
  // count its predecessor announced before erasing it, else the highest seen.
  for (std::uint32_t s = 0; s < sector_count_; ++s) {
    if (sectors_[s].sequence != 0) continue;
    sectors_[s].erase_count = intended_erases[s] != 0 ? intended_erases[s] : most_erases;
  }
  retire_old_sectors(retired);
  find_log_ends();
  return SpoolStatus::ok;
}

void SpoolLog::retire_old_sectors(std::uint32_t retired_sequence) {
  retired_sequence_ = durable_retired_ = retired_sequence;
  for (std::uint32_t s = 0; s < sector_count_; ++s) {
    Sector& sector = sectors_[s];
    if (sector.in_log && sector.sequence <= retired_sequence) sector.in_log = false;
    log_sectors_ += sector.in_log ? 1 : 0;
  }
}

void SpoolLog::find_log_ends() {
  bool any = false;
  for (std::uint32_t s = 0; s < sector_count_; ++s) {
    if (!sectors_[s].in_log) continue;
    if (!any || sectors_[s].sequence > sectors_[head_sector_].sequence) head_sector_ = s;
    if (!any || sectors_[s].sequence < sectors_[tail_sector_].sequence) tail_sector_ = s;
    any = true;
  }
}

// After a torn program the rest of the head sector may hold programmed units:
// new records go to a fresh sector then, never after the tear.
void SpoolLog::seal_head_unless_blank() {
  if (!sector_blank(head_sector_, head_offset_)) head_offset_ = sector_bytes_;
}

// ---------------------------------------------------------------------------
// The spool: step 2, the index from the records.

SpoolStatus Spool::mount(std::uint32_t uid_validity_at_format) {
  index_.clear();
  details_.clear();
  writers_ = {};
  cursors_ = {};
  mount_report_ = {};
  if (const SpoolStatus status = log_.open(); status != SpoolStatus::ok) return status;
  if (log_.empty()) return log_.format(uid_validity_at_format);
  log_.replay([this](std::uint32_t address, const RecordHeader& header) { replay_record(address, header); });
  log_.drop_dead_tail();
  return SpoolStatus::ok;
}

void Spool::replay_record(std::uint32_t address, const RecordHeader& header) {
  log_.saw_message_id(header.message_id);
  if (header.type == RecordType::commit) replay_commit(address, header);
  if (header.type == RecordType::outcome) replay_outcome(address, header);
  if (header.type == RecordType::attempt) replay_attempt(address, header);
  if (header.type == RecordType::mailbox_state) replay_mailbox_state(address, header);
  // Begin and data records are read through their commit, when needed.
}

// A commit makes its message exist (§4). A second commit of the same id is a
// copy made by reclaim: it takes over, keeping the outcomes known so far.
void Spool::replay_commit(std::uint32_t address, const RecordHeader& header) {
  const auto commit = log_.read_decoded<format::Commit>(address, header);
  if (!commit || !log_.precedes(commit->begin_address, address)) return;
  IndexEntry candidate;
  candidate.id = header.message_id;
  candidate.state = EntryState::committed;
  candidate.begin_address = commit->begin_address;
  candidate.commit_address = address;
  candidate.size_bytes = commit->body_bytes;
  std::optional<DeliveryDetail> from_begin = load_envelope(candidate, *commit);
  if (!from_begin) return;

  IndexEntry* entry = index_.find(header.message_id);
  if (entry != nullptr) {
    const auto known = outcomes_of(*entry);
    if (!known) return;  // the original's envelope is gone: the copy cannot be checked against it
    from_begin->outcomes.keep_first(*known, candidate.recipient_count);
    // The copy's begin holds the attempt state at the time of the copy;
    // attempt records replayed so far may be newer (the count only grows).
    if (const DeliveryDetail* detail = detail_of(*entry); detail != nullptr && detail->attempts >= from_begin->attempts) {
      from_begin->attempts = detail->attempts;
      from_begin->next_retry_s = detail->next_retry_s;
      from_begin->attempt_address = detail->attempt_address;
    }
    // The original's latest state record stands until the copy's follows its commit.
    candidate.state_address = entry->state_address;
    candidate.has_detail = entry->has_detail;
    move_begin(*entry, candidate.begin_address);
    *entry = candidate;
  } else {
    entry = index_.insert(candidate.id);
    if (entry == nullptr) {
      // open_message() never lets more messages live than the index holds;
      // a smaller index than the one that wrote the log, or an outcome lost
      // to a bit flip, can. The message stays on flash, unserved: reported.
      if (mount_report_.messages_not_indexed++ == 0) mount_report_.first_not_indexed = candidate.id;
      return;
    }
    *entry = candidate;
    log_.add_begin(entry->begin_address);
  }
  const auto settled = settlement(*entry, from_begin->outcomes, &*commit);
  if (!settled || !settle(*entry, *settled, from_begin->outcomes)) {
    not_indexed(*entry);
    return;
  }
  if (DeliveryDetail* detail = detail_of(*entry)) {
    detail->attempts = from_begin->attempts;
    detail->next_retry_s = from_begin->next_retry_s;
    detail->attempt_address = from_begin->attempt_address;
  }
  if (entry->dead()) release_entry(*entry);
}

// A message that needs a detail when none is free (a build with a smaller
// table, or outcomes settled unrecorded when the spool was full: §7) stays on
// flash unserved, as one beyond the index does.
void Spool::not_indexed(IndexEntry& entry) {
  if (mount_report_.messages_not_indexed++ == 0) mount_report_.first_not_indexed = entry.id;
  release_entry(entry);
}

void Spool::replay_outcome(std::uint32_t address, const RecordHeader& header) {
  IndexEntry* entry = index_.find(header.message_id);
  if (entry == nullptr) return;
  const auto outcome = log_.read_decoded<format::Outcome>(address, header);
  if (!outcome) return;
  // Decoded before the envelope is read: the record's mask is in the scratch.
  const RecipientSet recipients = format::decode_mask(outcome->recipient_mask);
  const std::uint8_t code = outcome->outcome;
  std::optional<format::RecipientOutcomes> outcomes = outcomes_of(*entry);
  if (!outcomes) return;
  outcomes->record(recipients, code, entry->recipient_count);
  const auto settled = settlement(*entry, *outcomes);
  if (!settled) return;
  if (!settle(*entry, *settled, *outcomes)) {
    not_indexed(*entry);
    return;
  }
  if (entry->dead()) release_entry(*entry);
}

// Log order is time order: the last attempt record of a message counts.
void Spool::replay_attempt(std::uint32_t address, const RecordHeader& header) {
  const IndexEntry* entry = index_.find(header.message_id);
  DeliveryDetail* detail = entry != nullptr ? detail_of(*entry) : nullptr;
  if (detail == nullptr) return;  // the smarthost is owed nothing: the attempt is history
  const auto attempt = log_.read_decoded<format::Attempt>(address, header);
  if (!attempt) return;
  detail->attempts = attempt->attempts;
  detail->next_retry_s = attempt->next_retry_s;
  detail->attempt_address = address;
}

// The last valid mailbox state record of a message is its state (§3.7).
void Spool::replay_mailbox_state(std::uint32_t address, const RecordHeader& header) {
  IndexEntry* entry = index_.find(header.message_id);
  if (entry == nullptr || !log_.read_decoded<format::MailboxStates>(address, header)) return;
  entry->state_address = address;
}

// Reads the envelope a commit names: its CRC must match the commit's, and a
// streamed one must have the recipient records the commit counts (§4). Its
// outcomes and attempt state come back in a detail, which the entry keeps
// only when it owes the smarthost (settlement()).
std::optional<DeliveryDetail> Spool::load_envelope(IndexEntry& entry, const format::Commit& commit) {
  const auto envelope = log_.read_decoded<format::Envelope>(entry.begin_address, commit.envelope_bytes,
                                                            commit.envelope_crc);
  const std::uint8_t streamed_recipients = commit.streamed_recipients;
  if (!envelope || envelope->streamed() != (streamed_recipients != 0) ||
      streamed_recipients > PIGEON_MAX_RECIPIENTS) {
    return std::nullopt;
  }
  entry.body_8bit = envelope->body_8bit();
  entry.streamed = envelope->streamed();
  entry.recipient_count = entry.streamed ? streamed_recipients : envelope->recipient_count;
  entry.arrived_s = envelope->arrived_s;
  entry.begin_state = envelope->mailbox_state;
  DeliveryDetail found;
  found.outcomes = envelope->outcomes;
  found.attempts = envelope->attempts;
  found.next_retry_s = envelope->next_retry_s;
  return found;
}

}  // namespace pigeon
