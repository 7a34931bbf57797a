#include "spool.hpp"

#include <algorithm>
#include <cstring>

#include "crc32.hpp"

namespace pigeon {
namespace {

// docs/spool-format.md §2: the sector header and its two erase-intent slots.
constexpr std::uint32_t sector_magic = 0x50534750;  // "PGSP" little-endian
constexpr std::uint16_t format_version = 3;
constexpr std::uint32_t sector_header_bytes = 36;
constexpr std::uint32_t intent_bytes = 12;
constexpr std::uint32_t intent_slots = 2;
constexpr std::uint32_t max_unit_bytes = 256;

// §3: records.
constexpr std::uint32_t record_header_bytes = 16;
enum RecordType : std::uint8_t {
  begin_record = 1,
  data_record = 2,
  commit_record = 3,
  outcome_record = 4,
  attempt_record = 5,
};
constexpr std::uint32_t commit_payload_bytes = 24;
constexpr std::uint32_t outcome_payload_bytes = 8;
constexpr std::uint32_t envelope_fixed_bytes = 24;
constexpr std::uint32_t envelope_outcomes_offset = 4;
constexpr std::uint32_t envelope_arrival_offset = 12;
constexpr std::uint32_t envelope_attempts_offset = 16;
constexpr std::uint32_t envelope_next_retry_offset = 20;
// §3.5: the attempt record, with its reply cut to what the inspector needs.
constexpr std::uint32_t attempt_fixed_bytes = 14;
constexpr std::uint32_t max_attempt_enhanced_bytes = 15;
constexpr std::uint32_t max_attempt_text_bytes = 64;
constexpr std::uint32_t max_attempt_payload_bytes =
    attempt_fixed_bytes + max_attempt_enhanced_bytes + max_attempt_text_bytes;
constexpr std::uint32_t max_sender_bytes = 256;
constexpr std::uint32_t max_envelope_bytes =
    envelope_fixed_bytes + max_sender_bytes + PIGEON_ENVELOPE_BYTES +
    PIGEON_MAX_RECIPIENTS * (3 + PIGEON_SPOOL_MAILBOX_NAME_BYTES);
constexpr std::uint32_t max_payload_bytes = std::max<std::uint32_t>(max_envelope_bytes, PIGEON_SPOOL_WRITE_BUFFER_BYTES);
static_assert(max_payload_bytes <= 0xFFFF, "payload lengths are 16 bits");

// One static scratch for building and reading records: the relay is
// single-threaded. A record is built here whole so that it is programmed in
// one operation, padding included.
std::array<std::uint8_t, record_header_bytes + max_payload_bytes + max_unit_bytes> scratch;
std::uint8_t* const scratch_payload = scratch.data() + record_header_bytes;

void put_u16(std::uint8_t* out, std::uint32_t value) {
  out[0] = static_cast<std::uint8_t>(value);
  out[1] = static_cast<std::uint8_t>(value >> 8);
}
void put_u32(std::uint8_t* out, std::uint32_t value) {
  put_u16(out, value & 0xFFFF);
  put_u16(out + 2, value >> 16);
}
void put_u64(std::uint8_t* out, std::uint64_t value) {
  put_u32(out, static_cast<std::uint32_t>(value));
  put_u32(out + 4, static_cast<std::uint32_t>(value >> 32));
}
std::uint32_t get_u16(const std::uint8_t* in) { return in[0] | (in[1] << 8); }
std::uint32_t get_u32(const std::uint8_t* in) { return get_u16(in) | (get_u16(in + 2) << 16); }
std::uint64_t get_u64(const std::uint8_t* in) { return get_u32(in) | (std::uint64_t{get_u32(in + 4)} << 32); }

bool all_erased(std::span<const std::uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0xFF; });
}

std::uint32_t outcome_code(std::uint64_t outcomes, std::uint32_t recipient) {
  return static_cast<std::uint32_t>(outcomes >> (2 * recipient)) & 3u;
}

// Per recipient, the first outcome wins: `kept` has priority over `more`.
std::uint64_t merge_outcomes(std::uint64_t kept, std::uint64_t more, std::uint32_t recipients) {
  for (std::uint32_t r = 0; r < recipients; ++r) {
    if (outcome_code(kept, r) == 0) kept |= std::uint64_t{outcome_code(more, r)} << (2 * r);
  }
  return kept;
}

// The fixed part of a begin record's payload (§3.1).
struct EnvelopeHead {
  bool body_8bit = false;
  std::uint8_t recipient_count = 0;
  std::uint64_t outcomes = 0;
  std::uint32_t arrived_s = 0;
  std::uint16_t attempts = 0;
  std::uint32_t next_retry_s = 0;
  std::string_view sender;
};

std::optional<EnvelopeHead> parse_envelope_head(std::span<const std::uint8_t> payload) {
  if (payload.size() < envelope_fixed_bytes) return std::nullopt;
  EnvelopeHead head;
  head.body_8bit = payload[0] & 1u;
  head.recipient_count = payload[1];
  const std::uint32_t sender_bytes = get_u16(payload.data() + 2);
  head.outcomes = get_u64(payload.data() + envelope_outcomes_offset);
  head.arrived_s = get_u32(payload.data() + envelope_arrival_offset);
  head.attempts = static_cast<std::uint16_t>(get_u16(payload.data() + envelope_attempts_offset));
  head.next_retry_s = get_u32(payload.data() + envelope_next_retry_offset);
  if (head.recipient_count == 0 || head.recipient_count > PIGEON_MAX_RECIPIENTS ||
      envelope_fixed_bytes + sender_bytes > payload.size()) {
    return std::nullopt;
  }
  head.sender = {reinterpret_cast<const char*>(payload.data() + envelope_fixed_bytes), sender_bytes};
  return head;
}

// Calls visit(index, address, mailbox) for every recipient; false when the
// payload is malformed.
template <class Visit>
bool for_each_recipient(std::span<const std::uint8_t> payload, const EnvelopeHead& head, Visit visit) {
  std::size_t offset = envelope_fixed_bytes + head.sender.size();
  for (std::uint8_t r = 0; r < head.recipient_count; ++r) {
    if (offset + 3 > payload.size()) return false;
    const std::size_t address_bytes = get_u16(payload.data() + offset);
    const std::size_t mailbox_bytes = payload[offset + 2];
    offset += 3;
    if (offset + address_bytes + mailbox_bytes > payload.size()) return false;
    const char* text = reinterpret_cast<const char*>(payload.data() + offset);
    visit(r, std::string_view(text, address_bytes), std::string_view(text + address_bytes, mailbox_bytes));
    offset += address_bytes + mailbox_bytes;
  }
  return offset == payload.size();
}

std::optional<std::uint32_t> envelope_payload_bytes(const SpoolEnvelope& envelope) {
  if (envelope.sender.size() > max_sender_bytes) return std::nullopt;
  std::uint32_t bytes = envelope_fixed_bytes + static_cast<std::uint32_t>(envelope.sender.size());
  for (const SpoolRecipient& recipient : envelope.recipients) {
    if (recipient.address.size() > PIGEON_ENVELOPE_BYTES ||
        recipient.mailbox.size() > PIGEON_SPOOL_MAILBOX_NAME_BYTES) {
      return std::nullopt;
    }
    bytes += 3 + static_cast<std::uint32_t>(recipient.address.size() + recipient.mailbox.size());
  }
  if (bytes > max_envelope_bytes) return std::nullopt;
  return bytes;
}

void encode_envelope(const SpoolEnvelope& envelope, std::uint8_t* out) {
  out[0] = envelope.body_8bit ? 1 : 0;
  out[1] = static_cast<std::uint8_t>(envelope.recipients.size());
  put_u16(out + 2, static_cast<std::uint32_t>(envelope.sender.size()));
  put_u64(out + envelope_outcomes_offset, 0);
  put_u32(out + envelope_arrival_offset, envelope.arrived_s);
  put_u32(out + envelope_attempts_offset, 0);  // attempts and the reserved half-word
  put_u32(out + envelope_next_retry_offset, 0);
  std::uint8_t* at = out + envelope_fixed_bytes;
  auto text = [&at](std::string_view value) {
    at = std::copy(value.begin(), value.end(), at);  // not memcpy: "" may have a null pointer
  };
  text(envelope.sender);
  for (const SpoolRecipient& recipient : envelope.recipients) {
    put_u16(at, static_cast<std::uint32_t>(recipient.address.size()));
    at[2] = static_cast<std::uint8_t>(recipient.mailbox.size());
    at += 3;
    text(recipient.address);
    text(recipient.mailbox);
  }
}

// The commit record's payload (§3.3).
struct CommitFields {
  std::uint32_t begin_address = 0;
  std::uint32_t envelope_crc = 0;
  std::uint32_t body_bytes = 0;
  std::uint32_t body_crc = 0;
  std::uint32_t data_records = 0;
  std::uint32_t envelope_bytes = 0;
};

std::array<std::uint8_t, commit_payload_bytes> encode_commit(const CommitFields& fields) {
  std::array<std::uint8_t, commit_payload_bytes> out{};
  put_u32(out.data(), fields.begin_address);
  put_u32(out.data() + 4, fields.envelope_crc);
  put_u32(out.data() + 8, fields.body_bytes);
  put_u32(out.data() + 12, fields.body_crc);
  put_u32(out.data() + 16, fields.data_records);
  put_u16(out.data() + 20, fields.envelope_bytes);
  return out;
}

CommitFields decode_commit(const std::uint8_t* in) {
  return {get_u32(in), get_u32(in + 4), get_u32(in + 8), get_u32(in + 12), get_u32(in + 16), get_u16(in + 20)};
}

// The attempt record's payload (§3.5); returns its length.
std::uint32_t encode_attempt(std::uint32_t mask, const SpoolAttempt& attempt, std::span<std::uint8_t> out) {
  const std::string_view enhanced = attempt.enhanced.substr(0, max_attempt_enhanced_bytes);
  const std::string_view text = attempt.text.substr(0, max_attempt_text_bytes);
  put_u32(out.data(), mask);
  put_u16(out.data() + 4, attempt.attempts);
  put_u16(out.data() + 6, attempt.reply_code);
  put_u32(out.data() + 8, attempt.next_retry_s);
  out[12] = static_cast<std::uint8_t>(enhanced.size());
  out[13] = static_cast<std::uint8_t>(text.size());
  // std::copy, not memcpy: an absent enhanced code or text may have a null pointer.
  const auto after_enhanced = std::copy(enhanced.begin(), enhanced.end(), out.begin() + attempt_fixed_bytes);
  std::copy(text.begin(), text.end(), after_enhanced);
  return attempt_fixed_bytes + static_cast<std::uint32_t>(enhanced.size() + text.size());
}

}  // namespace

std::size_t format_message_id(MessageId id, std::span<char> out) {
  constexpr std::string_view hex = "0123456789ABCDEF";
  if (out.size() < 8) return 0;
  for (std::size_t i = 0; i < 8; ++i) out[i] = hex[(id >> (28 - 4 * i)) & 0xF];
  return 8;
}

bool Spool::IndexEntry::dead() const {
  if (state != EntryState::committed) return false;
  for (std::uint8_t r = 0; r < recipient_count; ++r) {
    if (owed(r)) return false;
  }
  return true;
}

std::uint32_t Spool::align(std::uint32_t bytes) const {
  return (bytes + unit_bytes_ - 1) / unit_bytes_ * unit_bytes_;
}

// ---------------------------------------------------------------------------
// Mount (§5 of the format): headers once, then every record header once.

SpoolStatus Spool::mount() {
  const hal::FlashGeometry geometry = flash_.geometry();
  sector_bytes_ = geometry.sector_size_bytes;
  sector_count_ = std::min<std::uint32_t>(geometry.sector_count, PIGEON_SPOOL_MAX_SECTORS);
  unit_bytes_ = geometry.program_unit_bytes;
  if (unit_bytes_ == 0 || unit_bytes_ > max_unit_bytes || sector_bytes_ % unit_bytes_ != 0) {
    return SpoolStatus::flash_error;
  }
  data_offset_ = align(sector_header_bytes) + intent_slots * align(intent_bytes);
  if (sector_count_ < PIGEON_SPOOL_RESERVE_SECTORS + 2 ||
      data_offset_ + align(record_header_bytes + PIGEON_SPOOL_WRITE_BUFFER_BYTES) > sector_bytes_) {
    return SpoolStatus::flash_error;
  }
  sectors_ = {};
  index_ = {};
  writers_ = {};
  cursors_ = {};
  next_id_ = 1;
  next_sequence_ = 1;
  log_sectors_ = 0;
  if (const SpoolStatus status = read_sector_headers(); status != SpoolStatus::ok) return status;
  if (log_sectors_ == 0) return format();
  find_log_ends();
  for (std::uint32_t s = tail_sector_;; s = (s + 1) % sector_count_) {
    if (sectors_[s].in_log) replay_sector(s);
    if (s == head_sector_) break;
  }
  drop_dead_tail();
  return seal_head_unless_blank();
}

// Reads every sector's header and intent slots in one read per sector.
SpoolStatus Spool::read_sector_headers() {
  std::array<std::uint8_t, max_unit_bytes * (1 + intent_slots)> region{};
  const std::uint32_t region_bytes = align(sector_header_bytes) + intent_slots * align(intent_bytes);
  std::uint32_t retired = 0, most_erases = 0;
  std::array<std::uint32_t, PIGEON_SPOOL_MAX_SECTORS> intended_erases{};  // from the predecessor's intent
  for (std::uint32_t s = 0; s < sector_count_; ++s) {
    if (flash_.read(s * sector_bytes_, {region.data(), region_bytes}) != hal::FlashStatus::ok) {
      return SpoolStatus::flash_error;
    }
    const std::uint8_t* h = region.data();
    Sector& sector = sectors_[s];
    if (get_u32(h) == sector_magic && get_u16(h + 4) == format_version &&
        get_u16(h + 6) == sector_header_bytes && get_u32(h + 24) == sector_bytes_ &&
        get_u16(h + 28) == unit_bytes_ && get_u32(h + 32) == crc32({h, 32})) {
      sector.in_log = true;
      sector.sequence = get_u32(h + 8);
      sector.erase_count = get_u32(h + 12);
      next_id_ = std::max(next_id_, get_u32(h + 16));
      retired = std::max(retired, get_u32(h + 20));
      next_sequence_ = std::max(next_sequence_, sector.sequence + 1);
      most_erases = std::max(most_erases, sector.erase_count);
    }
    for (std::uint32_t slot = 0; slot < intent_slots; ++slot) {
      const std::uint8_t* intent = region.data() + align(sector_header_bytes) + slot * align(intent_bytes);
      if (all_erased({intent, intent_bytes})) continue;
      sector.intents_written = static_cast<std::uint8_t>(slot + 1);
      if (get_u32(intent + 8) != crc32({intent, 8})) continue;
      retired = std::max(retired, get_u32(intent));
      intended_erases[(s + 1) % sector_count_] = get_u32(intent + 4);
    }
  }
  // A sector whose header is gone lost its erase count with it: take the
  // count its predecessor announced before erasing it, else the highest seen.
  for (std::uint32_t s = 0; s < sector_count_; ++s) {
    if (sectors_[s].sequence != 0) continue;
    sectors_[s].erase_count = intended_erases[s] != 0 ? intended_erases[s] : most_erases;
  }
  retire_old_sectors(retired);
  return SpoolStatus::ok;
}

void Spool::retire_old_sectors(std::uint32_t retired_sequence) {
  retired_sequence_ = durable_retired_ = retired_sequence;
  for (std::uint32_t s = 0; s < sector_count_; ++s) {
    Sector& sector = sectors_[s];
    if (sector.in_log && sector.sequence <= retired_sequence) sector.in_log = false;
    log_sectors_ += sector.in_log ? 1 : 0;
  }
}

void Spool::find_log_ends() {
  bool any = false;
  for (std::uint32_t s = 0; s < sector_count_; ++s) {
    if (!sectors_[s].in_log) continue;
    if (!any || sectors_[s].sequence > sectors_[head_sector_].sequence) head_sector_ = s;
    if (!any || sectors_[s].sequence < sectors_[tail_sector_].sequence) tail_sector_ = s;
    any = true;
  }
}

void Spool::replay_sector(std::uint32_t sector) {
  std::uint32_t address = sector * sector_bytes_ + data_offset_;
  RecordHeader header;
  while (read_header(address, header)) {
    replay_record(address, header);
    address += align(record_header_bytes + header.payload_bytes);
  }
  if (sector == head_sector_) head_offset_ = address - sector * sector_bytes_;
}

void Spool::replay_record(std::uint32_t address, const RecordHeader& header) {
  next_id_ = std::max(next_id_, header.id + 1);
  if (header.type == commit_record) replay_commit(address, header);
  if (header.type == outcome_record) replay_outcome(address, header);
  if (header.type == attempt_record) replay_attempt(address, header);
  // Begin and data records are read through their commit, when needed.
}

// A commit makes its message exist (§4). A second commit of the same id is a
// copy made by reclaim: it takes over, keeping the outcomes known so far.
void Spool::replay_commit(std::uint32_t address, const RecordHeader& header) {
  std::array<std::uint8_t, commit_payload_bytes> payload{};
  if (header.payload_bytes != payload.size() ||
      flash_.read(address + record_header_bytes, payload) != hal::FlashStatus::ok ||
      crc32(payload) != header.payload_crc) {
    return;
  }
  const CommitFields fields = decode_commit(payload.data());
  // The begin must precede the commit in the log (which wraps round the ring).
  const std::uint32_t begin_sector = fields.begin_address / sector_bytes_;
  const std::uint32_t commit_sector = sector_of(address);
  const bool precedes = begin_sector == commit_sector
                            ? fields.begin_address < address
                            : begin_sector < sector_count_ && sectors_[begin_sector].in_log &&
                                  sectors_[begin_sector].sequence < sectors_[commit_sector].sequence;
  if (!precedes) return;
  IndexEntry candidate;
  candidate.id = header.id;
  candidate.state = EntryState::committed;
  candidate.begin_address = fields.begin_address;
  candidate.envelope_crc = fields.envelope_crc;
  candidate.envelope_bytes = static_cast<std::uint16_t>(fields.envelope_bytes);
  candidate.size_bytes = fields.body_bytes;
  candidate.body_crc = fields.body_crc;
  candidate.data_records = fields.data_records;
  if (!load_envelope(candidate)) return;

  IndexEntry* entry = find(header.id);
  if (entry != nullptr) {
    candidate.outcomes = merge_outcomes(entry->outcomes, candidate.outcomes, candidate.recipient_count);
    // The copy's begin holds the attempt state at the time of the copy;
    // attempt records replayed so far may be newer (the count only grows).
    if (entry->attempts >= candidate.attempts) {
      candidate.attempts = entry->attempts;
      candidate.next_retry_s = entry->next_retry_s;
      candidate.attempt_address = entry->attempt_address;
    }
    move_begin(*entry, candidate.begin_address);
    *entry = candidate;
  } else {
    // The log never holds more live messages than the index has entries
    // (open_message refuses beyond that), so an entry is free here.
    entry = free_entry();
    if (entry == nullptr) return;
    *entry = candidate;
    ++sectors_[begin_sector].live_begins;
  }
  if (entry->dead()) release_entry(*entry);
}

void Spool::replay_outcome(std::uint32_t address, const RecordHeader& header) {
  std::array<std::uint8_t, outcome_payload_bytes> payload{};
  if (header.payload_bytes != payload.size() ||
      flash_.read(address + record_header_bytes, payload) != hal::FlashStatus::ok ||
      crc32(payload) != header.payload_crc) {
    return;
  }
  IndexEntry* entry = find(header.id);
  const std::uint8_t outcome = payload[0];
  if (entry == nullptr || outcome < 1 || outcome > 3) return;
  apply_outcome(*entry, get_u32(payload.data() + 4), static_cast<RecipientOutcome>(outcome));
  if (entry->dead()) release_entry(*entry);
}

// Log order is time order: the last attempt record of a message counts.
void Spool::replay_attempt(std::uint32_t address, const RecordHeader& header) {
  std::array<std::uint8_t, max_attempt_payload_bytes> payload{};
  IndexEntry* entry = find(header.id);
  if (entry == nullptr || header.payload_bytes < attempt_fixed_bytes || header.payload_bytes > payload.size() ||
      flash_.read(address + record_header_bytes, {payload.data(), header.payload_bytes}) != hal::FlashStatus::ok ||
      crc32({payload.data(), header.payload_bytes}) != header.payload_crc) {
    return;
  }
  entry->attempts = static_cast<std::uint16_t>(get_u16(payload.data() + 4));
  entry->next_retry_s = get_u32(payload.data() + 8);
  entry->attempt_address = address;
}

// After a torn program the rest of the head sector may hold programmed units:
// new records go to a fresh sector then, never after the tear.
SpoolStatus Spool::seal_head_unless_blank() {
  if (!sector_blank(head_sector_, head_offset_)) head_offset_ = sector_bytes_;
  return SpoolStatus::ok;
}

SpoolStatus Spool::format() {
  next_sequence_ = 1;
  log_sectors_ = 0;
  tail_sector_ = 0;
  return start_sector(0);
}

// ---------------------------------------------------------------------------
// The log.

bool Spool::sector_blank(std::uint32_t sector, std::uint32_t from_offset) {
  std::array<std::uint8_t, 256> probe{};
  for (std::uint32_t offset = from_offset; offset < sector_bytes_; offset += static_cast<std::uint32_t>(probe.size())) {
    const std::uint32_t length = std::min<std::uint32_t>(probe.size(), sector_bytes_ - offset);
    if (flash_.read(sector * sector_bytes_ + offset, {probe.data(), length}) != hal::FlashStatus::ok ||
        !all_erased({probe.data(), length})) {
      return false;
    }
  }
  return true;
}

std::uint32_t Spool::free_sectors() const { return sector_count_ - log_sectors_; }

std::uint32_t Spool::free_bytes() const {
  return (sector_bytes_ - head_offset_) + free_sectors() * (sector_bytes_ - data_offset_);
}

// Makes room for a record of `record_bytes` at the head. New mail (commits
// included) leaves the reserve free: reclaim needs it to copy the tail. Outcomes,
// which make space reclaimable, and the copies, which free more than they take,
// may use it all.
SpoolStatus Spool::prepare_space(std::uint32_t record_bytes, SpaceFor purpose) {
  if (record_bytes > sector_bytes_ - data_offset_) return SpoolStatus::full;
  if (head_offset_ + record_bytes <= sector_bytes_) return SpoolStatus::ok;
  if (purpose != SpaceFor::copy) {
    if (const SpoolStatus status = make_room(); status != SpoolStatus::ok) return status;
  }
  const std::uint32_t keep_free = purpose == SpaceFor::new_mail ? PIGEON_SPOOL_RESERVE_SECTORS : 0;
  const std::uint32_t next = (head_sector_ + 1) % sector_count_;
  if (free_sectors() <= keep_free || sectors_[next].in_log) return SpoolStatus::full;
  return start_sector(next);
}

// Copies the live messages of the oldest sector forward while no more than the
// reserve is free and each copy frees more than it takes.
SpoolStatus Spool::make_room() {
  for (std::uint32_t attempt = 0; attempt < sector_count_ && free_sectors() <= PIGEON_SPOOL_RESERVE_SECTORS;
       ++attempt) {
    const SpoolStatus status = copy_tail_forward();
    if (status == SpoolStatus::full) break;  // nothing worth copying: the caller decides
    if (status != SpoolStatus::ok) return status;
  }
  return SpoolStatus::ok;
}

// Erases `sector` unless it is blank, and writes its header: it becomes the
// head of the log (§6).
SpoolStatus Spool::start_sector(std::uint32_t sector) {
  Sector& state = sectors_[sector];
  if (!sector_blank(sector, 0)) {
    // A torn erase can leave the old header readable: say first, durably,
    // that this sector left the log.
    if (state.sequence > durable_retired_) {
      if (const SpoolStatus status = record_erase_intent(); status != SpoolStatus::ok) return status;
    }
    // Copies and outcomes must be durable before the sector that held the
    // originals goes (the host's file flash needs its fdatasync).
    if (flash_.sync() != hal::FlashStatus::ok || flash_.erase(sector) != hal::FlashStatus::ok) {
      return SpoolStatus::flash_error;
    }
    ++state.erase_count;
  }
  std::array<std::uint8_t, max_unit_bytes> header{};
  header.fill(0xFF);
  put_u32(header.data(), sector_magic);
  put_u16(header.data() + 4, format_version);
  put_u16(header.data() + 6, sector_header_bytes);
  put_u32(header.data() + 8, next_sequence_);
  put_u32(header.data() + 12, state.erase_count);
  put_u32(header.data() + 16, next_id_);
  put_u32(header.data() + 20, retired_sequence_);
  put_u32(header.data() + 24, sector_bytes_);
  put_u16(header.data() + 28, unit_bytes_);
  put_u16(header.data() + 30, 0);
  put_u32(header.data() + 32, crc32({header.data(), 32}));
  if (flash_.program(sector * sector_bytes_, {header.data(), align(sector_header_bytes)}) != hal::FlashStatus::ok) {
    return SpoolStatus::flash_error;
  }
  state.in_log = true;
  state.sequence = next_sequence_++;
  state.live_begins = 0;
  state.intents_written = 0;
  durable_retired_ = std::max(durable_retired_, retired_sequence_);
  head_sector_ = sector;
  head_offset_ = data_offset_;
  ++log_sectors_;
  return SpoolStatus::ok;
}

// Programs the next free intent slot of the head sector: "every sector up to
// retired_sequence_ has left the log; the next sector's erase count becomes
// n". With both slots torn by earlier cuts the erase goes ahead without one.
SpoolStatus Spool::record_erase_intent() {
  Sector& head = sectors_[head_sector_];
  if (head.intents_written >= intent_slots) return SpoolStatus::ok;
  const std::uint32_t next = (head_sector_ + 1) % sector_count_;
  std::array<std::uint8_t, max_unit_bytes> intent{};
  intent.fill(0xFF);
  put_u32(intent.data(), retired_sequence_);
  put_u32(intent.data() + 4, sectors_[next].erase_count + 1);
  put_u32(intent.data() + 8, crc32({intent.data(), 8}));
  const std::uint32_t address =
      head_sector_ * sector_bytes_ + align(sector_header_bytes) + head.intents_written * align(intent_bytes);
  ++head.intents_written;
  if (flash_.program(address, {intent.data(), align(intent_bytes)}) != hal::FlashStatus::ok) {
    return SpoolStatus::flash_error;
  }
  durable_retired_ = retired_sequence_;  // after the sync that precedes the erase
  return SpoolStatus::ok;
}

// Programs the record whose payload is already in the scratch at the head.
// The caller made room with prepare_space().
SpoolStatus Spool::write_record(std::uint8_t type, MessageId id, std::uint32_t payload_bytes,
                                std::uint32_t* address_out) {
  const std::uint32_t size = align(record_header_bytes + payload_bytes);
  if (head_offset_ + size > sector_bytes_) return SpoolStatus::full;
  std::uint8_t* record = scratch.data();
  std::fill(record + record_header_bytes + payload_bytes, record + size, 0xFF);
  record[0] = type;
  record[1] = 0;
  put_u16(record + 2, payload_bytes);
  put_u32(record + 4, id);
  put_u32(record + 8, crc32({scratch_payload, payload_bytes}));
  put_u32(record + 12, crc32({record, 12}));
  const std::uint32_t address = head_sector_ * sector_bytes_ + head_offset_;
  if (flash_.program(address, {record, size}) != hal::FlashStatus::ok) return SpoolStatus::flash_error;
  head_offset_ += size;
  if (address_out != nullptr) *address_out = address;
  return SpoolStatus::ok;
}

SpoolStatus Spool::append_record(std::uint8_t type, MessageId id, std::span<const std::uint8_t> payload,
                                 SpaceFor purpose, std::uint32_t* address_out) {
  const auto payload_bytes = static_cast<std::uint32_t>(payload.size());
  if (const SpoolStatus status = prepare_space(align(record_header_bytes + payload_bytes), purpose);
      status != SpoolStatus::ok) {
    return status;
  }
  std::memmove(scratch_payload, payload.data(), payload.size());
  return write_record(type, id, payload_bytes, address_out);
}

bool Spool::read_header(std::uint32_t address, RecordHeader& header) {
  const std::uint32_t offset = address % sector_bytes_;
  if (offset < data_offset_ || offset + record_header_bytes > sector_bytes_) return false;
  std::array<std::uint8_t, record_header_bytes> bytes{};
  if (flash_.read(address, bytes) != hal::FlashStatus::ok) return false;
  if (bytes[0] < begin_record || bytes[0] > attempt_record || get_u32(bytes.data() + 12) != crc32({bytes.data(), 12})) {
    return false;
  }
  header.type = bytes[0];
  header.payload_bytes = get_u16(bytes.data() + 2);
  header.id = get_u32(bytes.data() + 4);
  header.payload_crc = get_u32(bytes.data() + 8);
  return offset + align(record_header_bytes + header.payload_bytes) <= sector_bytes_;
}

// Finds the first record of message `id` at or after `address`, following the
// log across sectors; false at the end of the log.
bool Spool::next_record_of(MessageId id, std::uint32_t& address, RecordHeader& header) {
  for (std::uint32_t jumps = 0; jumps <= sector_count_;) {
    if (read_header(address, header)) {
      if (header.id == id) return true;
      address += align(record_header_bytes + header.payload_bytes);
      continue;
    }
    // `address` is inside its sector or just past its end.
    const std::uint32_t sector = sector_of(address - 1);
    const std::uint32_t next = (sector + 1) % sector_count_;
    if (sector == head_sector_ || !sectors_[next].in_log) return false;
    address = next * sector_bytes_ + data_offset_;
    ++jumps;
  }
  return false;
}

// Sectors at the tail whose messages are all dead leave the log; they are
// erased when the head comes round to them.
void Spool::drop_dead_tail() {
  while (tail_sector_ != head_sector_ && sectors_[tail_sector_].live_begins == 0) {
    Sector& sector = sectors_[tail_sector_];
    if (sector.in_log) {
      sector.in_log = false;
      --log_sectors_;
      retired_sequence_ = std::max(retired_sequence_, sector.sequence);
    }
    tail_sector_ = (tail_sector_ + 1) % sector_count_;
  }
}

// ---------------------------------------------------------------------------
// Reclaim (§7): live messages of the oldest sector are copied to the head.

// Copies the live messages that begin in the tail sector when that is safe
// and part of a plan worth it: copying the messages of the first k sectors of
// the log fits in the free space and takes less than those k sectors and the
// dead ones right behind them free. Free space therefore grows over the plan;
// the next calls carry it on.
SpoolStatus Spool::copy_tail_forward() {
  const std::uint32_t tail = tail_sector_;
  if (tail == head_sector_ || !copy_plan_pays_off()) return SpoolStatus::full;
  for (IndexEntry& entry : index_) {
    if (entry.state != EntryState::committed || sector_of(entry.begin_address) != tail) continue;
    if (const SpoolStatus status = copy_message(entry); status != SpoolStatus::ok) return status;
  }
  drop_dead_tail();
  return tail_sector_ != tail ? SpoolStatus::ok : SpoolStatus::full;
}

bool Spool::copy_plan_pays_off() const {
  const std::uint32_t usable = sector_bytes_ - data_offset_;
  std::uint32_t records = 0, largest = 0, sectors = 0;
  for (std::uint32_t s = tail_sector_; s != head_sector_; s = (s + 1) % sector_count_) {
    for (const IndexEntry& entry : index_) {
      if (entry.state == EntryState::unused || sector_of(entry.begin_address) != s) continue;
      if (entry.state == EntryState::writing) return false;  // an open message pins its sector
      records += copy_bytes(entry);
      largest = std::max(largest, largest_record_bytes(entry));
    }
    ++sectors;
    // Each sector the copies cross loses less than their largest record at its end.
    const std::uint32_t needed = records + (records / usable + 1) * largest;
    if (needed > free_bytes()) return false;
    if (needed < (sectors + dead_sectors_after(s)) * usable) return true;
  }
  return false;
}

// The sectors after `sector` that hold no live message, up to the head.
std::uint32_t Spool::dead_sectors_after(std::uint32_t sector) const {
  std::uint32_t dead = 0;
  for (std::uint32_t s = (sector + 1) % sector_count_; s != head_sector_ && sectors_[s].live_begins == 0;
       s = (s + 1) % sector_count_) {
    ++dead;
  }
  return dead;
}

// The most flash the records of a copy of `entry` can take.
std::uint32_t Spool::copy_bytes(const IndexEntry& entry) const {
  const std::uint32_t attempt = entry.attempt_address != 0 ? align(record_header_bytes + max_attempt_payload_bytes) : 0;
  return align(record_header_bytes + entry.envelope_bytes) +
         entry.data_records * align(record_header_bytes + PIGEON_SPOOL_WRITE_BUFFER_BYTES) +
         align(record_header_bytes + commit_payload_bytes) + attempt;
}

std::uint32_t Spool::largest_record_bytes(const IndexEntry& entry) const {
  return std::max(align(record_header_bytes + entry.envelope_bytes),
                  align(record_header_bytes + PIGEON_SPOOL_WRITE_BUFFER_BYTES));
}

// Begin (carrying the outcomes so far), data, commit: the copy takes over
// when its commit is on flash; until then the original stands.
SpoolStatus Spool::copy_message(IndexEntry& entry) {
  if (!deliverable(entry)) {
    release_entry(entry);  // never deliverable: not worth the flash
    return SpoolStatus::ok;
  }
  std::uint32_t begin_address = 0, envelope_crc = 0;
  if (const SpoolStatus status = copy_envelope(entry, begin_address, envelope_crc); status != SpoolStatus::ok) {
    return status;
  }
  std::uint32_t records = 0;
  std::uint32_t address = entry.begin_address;
  RecordHeader header;
  while (next_record_of(entry.id, address, header) && header.type != commit_record) {
    if (header.type == data_record) {
      const std::uint32_t size = align(record_header_bytes + header.payload_bytes);
      if (const SpoolStatus status = prepare_space(size, SpaceFor::copy); status != SpoolStatus::ok) {
        return status;
      }
      if (flash_.read(address + record_header_bytes, {scratch_payload, header.payload_bytes}) !=
              hal::FlashStatus::ok ||
          crc32({scratch_payload, header.payload_bytes}) != header.payload_crc) {
        return SpoolStatus::flash_error;
      }
      if (const SpoolStatus status = write_record(data_record, entry.id, header.payload_bytes);
          status != SpoolStatus::ok) {
        return status;
      }
      ++records;
    }
    address += align(record_header_bytes + header.payload_bytes);
  }
  IndexEntry copy = entry;
  copy.envelope_crc = envelope_crc;
  copy.data_records = records;
  if (const SpoolStatus status = write_commit(entry.id, begin_address, copy, SpaceFor::copy, nullptr); status != SpoolStatus::ok) {
    return status;
  }
  move_begin(entry, begin_address);
  entry.envelope_crc = envelope_crc;
  entry.data_records = records;
  return copy_attempt(entry);
}

// The latest attempt record goes after the copy's commit, where replay finds
// the message already indexed. The copied begin already carries the count and
// the retry time: a cut before this record loses only the reply text.
SpoolStatus Spool::copy_attempt(IndexEntry& entry) {
  RecordHeader header;
  if (entry.attempt_address == 0 || !read_header(entry.attempt_address, header)) return SpoolStatus::ok;
  if (const SpoolStatus status = prepare_space(align(record_header_bytes + header.payload_bytes), SpaceFor::copy);
      status != SpoolStatus::ok) {
    return status;
  }
  if (flash_.read(entry.attempt_address + record_header_bytes, {scratch_payload, header.payload_bytes}) !=
          hal::FlashStatus::ok ||
      crc32({scratch_payload, header.payload_bytes}) != header.payload_crc) {
    entry.attempt_address = 0;
    return SpoolStatus::ok;
  }
  return write_record(attempt_record, entry.id, header.payload_bytes, &entry.attempt_address);
}

SpoolStatus Spool::copy_envelope(const IndexEntry& entry, std::uint32_t& begin_address,
                                 std::uint32_t& envelope_crc) {
  if (const SpoolStatus status = prepare_space(align(record_header_bytes + entry.envelope_bytes), SpaceFor::copy);
      status != SpoolStatus::ok) {
    return status;
  }
  const std::span<std::uint8_t> payload(scratch_payload, entry.envelope_bytes);
  if (flash_.read(entry.begin_address + record_header_bytes, payload) != hal::FlashStatus::ok ||
      crc32(payload) != entry.envelope_crc) {
    return SpoolStatus::flash_error;
  }
  put_u64(payload.data() + envelope_outcomes_offset, entry.outcomes);
  put_u16(payload.data() + envelope_attempts_offset, entry.attempts);
  put_u32(payload.data() + envelope_next_retry_offset, entry.next_retry_s);
  envelope_crc = crc32(payload);
  return write_record(begin_record, entry.id, entry.envelope_bytes, &begin_address);
}

// ---------------------------------------------------------------------------
// Messages.

SpoolStatus Spool::write_commit(MessageId id, std::uint32_t begin_address, const IndexEntry& shape,
                                SpaceFor purpose, std::uint32_t* address_out) {
  CommitFields fields;
  fields.begin_address = begin_address;
  fields.envelope_crc = shape.envelope_crc;
  fields.body_bytes = shape.size_bytes;
  fields.body_crc = shape.body_crc;
  fields.data_records = shape.data_records;
  fields.envelope_bytes = shape.envelope_bytes;
  return append_record(commit_record, id, encode_commit(fields), purpose, address_out);
}

SpoolStatus Spool::open_message(const SpoolEnvelope& envelope, SpoolWriter& writer) {
  if (envelope.recipients.empty() || envelope.recipients.size() > PIGEON_MAX_RECIPIENTS) {
    return SpoolStatus::too_many;
  }
  const auto payload_bytes = envelope_payload_bytes(envelope);
  auto slot = std::find_if(writers_.begin(), writers_.end(), [](const Writer& w) { return !w.open; });
  IndexEntry* entry = free_entry();
  if (!payload_bytes || slot == writers_.end() || entry == nullptr) return SpoolStatus::too_many;
  if (const SpoolStatus status = prepare_space(align(record_header_bytes + *payload_bytes), SpaceFor::new_mail);
      status != SpoolStatus::ok) {
    return status;
  }
  // Built only now: making room may have used the scratch for copies.
  encode_envelope(envelope, scratch_payload);
  const std::uint32_t envelope_crc = crc32({scratch_payload, *payload_bytes});
  const MessageId id = next_id_;
  std::uint32_t address = 0;
  if (const SpoolStatus status = write_record(begin_record, id, *payload_bytes, &address); status != SpoolStatus::ok) {
    return status;
  }
  ++next_id_;
  *entry = IndexEntry{};
  entry->id = id;
  entry->state = EntryState::writing;
  entry->body_8bit = envelope.body_8bit;
  entry->recipient_count = static_cast<std::uint8_t>(envelope.recipients.size());
  entry->envelope_bytes = static_cast<std::uint16_t>(*payload_bytes);
  entry->envelope_crc = envelope_crc;
  entry->begin_address = address;
  entry->arrived_s = envelope.arrived_s;
  for (std::size_t r = 0; r < envelope.recipients.size(); ++r) {
    entry->mailbox[r] = mailbox_number_of(envelope.recipients[r].mailbox);
  }
  ++sectors_[sector_of(address)].live_begins;
  *slot = Writer{};
  slot->open = true;
  slot->index_slot = static_cast<std::uint32_t>(entry - index_.data());
  writer.slot_ = static_cast<std::uint8_t>(slot - writers_.begin());
  writer.id_ = id;
  return SpoolStatus::ok;
}

SpoolStatus Spool::append(const SpoolWriter& handle, std::span<const std::uint8_t> bytes) {
  Writer& writer = writers_[handle.slot_];
  if (!writer.open) return SpoolStatus::not_found;
  while (!bytes.empty()) {
    const std::size_t take = std::min<std::size_t>(bytes.size(), writer.buffer.size() - writer.buffered);
    std::memcpy(writer.buffer.data() + writer.buffered, bytes.data(), take);
    writer.buffered += static_cast<std::uint32_t>(take);
    bytes = bytes.subspan(take);
    if (writer.buffered == writer.buffer.size()) {
      if (const SpoolStatus status = flush_writer(writer); status != SpoolStatus::ok) return status;
    }
  }
  return SpoolStatus::ok;
}

SpoolStatus Spool::flush_writer(Writer& writer) {
  if (writer.buffered == 0) return SpoolStatus::ok;
  const IndexEntry& entry = index_[writer.index_slot];
  const std::span<const std::uint8_t> piece(writer.buffer.data(), writer.buffered);
  if (const SpoolStatus status = append_record(data_record, entry.id, piece, SpaceFor::new_mail);
      status != SpoolStatus::ok) {
    return status;
  }
  writer.crc = crc32(piece, writer.crc);
  writer.length += writer.buffered;
  ++writer.records;
  writer.buffered = 0;
  return SpoolStatus::ok;
}

SpoolStatus Spool::commit(const SpoolWriter& handle) {
  Writer& writer = writers_[handle.slot_];
  if (!writer.open) return SpoolStatus::not_found;
  IndexEntry& entry = index_[writer.index_slot];
  SpoolStatus status = flush_writer(writer);
  entry.size_bytes = writer.length;
  entry.body_crc = writer.crc;
  entry.data_records = writer.records;
  std::uint32_t address = 0;
  if (status == SpoolStatus::ok) status = write_commit(entry.id, entry.begin_address, entry, SpaceFor::new_mail, &address);
  // Read the commit record back: the 250 must not rest on a failed program.
  RecordHeader check;
  std::array<std::uint8_t, commit_payload_bytes> stored{};
  if (status == SpoolStatus::ok &&
      (!read_header(address, check) || check.type != commit_record || check.id != entry.id ||
       flash_.read(address + record_header_bytes, stored) != hal::FlashStatus::ok ||
       crc32(stored) != check.payload_crc)) {
    status = SpoolStatus::flash_error;
  }
  if (status != SpoolStatus::ok) {
    discard(handle);
    return status;
  }
  entry.state = EntryState::committed;
  entry.verified = true;  // its pieces are what the writer computed the CRC over
  writer.open = false;
  return SpoolStatus::ok;
}

void Spool::discard(const SpoolWriter& handle) {
  Writer& writer = writers_[handle.slot_];
  if (!writer.open) return;
  writer.open = false;
  release_entry(index_[writer.index_slot]);
  drop_dead_tail();
}

SpoolStatus Spool::sync() {
  return flash_.sync() == hal::FlashStatus::ok ? SpoolStatus::ok : SpoolStatus::flash_error;
}

std::uint8_t Spool::mailbox_number_of(std::string_view mailbox) const {
  if (mailbox.empty()) return remote_mailbox;
  return mailboxes_.mailbox_number(mailbox).value_or(unknown_mailbox);
}

// Reads the envelope of a committed message from flash into the index entry:
// its CRC must match the one its commit names.
bool Spool::load_envelope(IndexEntry& entry) {
  const std::span<std::uint8_t> payload(scratch.data(), entry.envelope_bytes);
  if (flash_.read(entry.begin_address + record_header_bytes, payload) != hal::FlashStatus::ok ||
      crc32(payload) != entry.envelope_crc) {
    return false;
  }
  const auto head = parse_envelope_head(payload);
  if (!head) return false;
  entry.body_8bit = head->body_8bit;
  entry.recipient_count = head->recipient_count;
  entry.outcomes = head->outcomes;
  entry.arrived_s = head->arrived_s;
  entry.attempts = head->attempts;
  entry.next_retry_s = head->next_retry_s;
  return for_each_recipient(payload, *head, [&](std::uint8_t r, std::string_view, std::string_view mailbox) {
    entry.mailbox[r] = mailbox_number_of(mailbox);
  });
}

Spool::IndexEntry* Spool::find(MessageId id) {
  for (IndexEntry& entry : index_) {
    if (entry.state != EntryState::unused && entry.id == id) return &entry;
  }
  return nullptr;
}

Spool::IndexEntry* Spool::free_entry() {
  for (IndexEntry& entry : index_) {
    if (entry.state == EntryState::unused) return &entry;
  }
  return nullptr;
}

void Spool::move_begin(IndexEntry& entry, std::uint32_t begin_address) {
  --sectors_[sector_of(entry.begin_address)].live_begins;
  ++sectors_[sector_of(begin_address)].live_begins;
  entry.begin_address = begin_address;
  forget_cursors(entry.id);
}

// Frees the entry; the caller drops dead tail sectors when the log is whole
// (not during replay, where later commits may still point into them).
void Spool::release_entry(IndexEntry& entry) {
  --sectors_[sector_of(entry.begin_address)].live_begins;
  forget_cursors(entry.id);
  entry = IndexEntry{};
}

void Spool::forget_cursors(MessageId id) {
  for (Cursor& cursor : cursors_) {
    if (cursor.valid && cursor.id == id) cursor.valid = false;
  }
}

// Walks the message's records: each data payload must match its CRC, and all
// of them together the length and CRC of the commit record.
bool Spool::verify_message(IndexEntry& entry) {
  std::uint32_t length = 0, crc = 0;
  std::uint32_t address = entry.begin_address;
  RecordHeader header;
  while (next_record_of(entry.id, address, header)) {
    if (header.type == commit_record) return length == entry.size_bytes && crc == entry.body_crc;
    if (header.type == data_record) {
      const std::span<std::uint8_t> piece(scratch.data(), header.payload_bytes);
      if (flash_.read(address + record_header_bytes, piece) != hal::FlashStatus::ok ||
          crc32(piece) != header.payload_crc) {
        return false;
      }
      crc = crc32(piece, crc);
      length += header.payload_bytes;
    }
    address += align(record_header_bytes + header.payload_bytes);
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

std::size_t Spool::list_mailbox(std::string_view mailbox, std::span<MaildropEntry> out) {
  const std::uint8_t number = mailbox_number_of(mailbox);
  if (number == remote_mailbox || number == unknown_mailbox) return 0;
  std::size_t count = 0;
  // Oldest first: ids grow with time.
  for (MessageId last = 0; count < out.size();) {
    IndexEntry* next = nullptr;
    for (IndexEntry& entry : index_) {
      if (entry.state != EntryState::committed || entry.id <= last) continue;
      bool owed = false;
      for (std::uint8_t r = 0; r < entry.recipient_count; ++r) owed |= entry.mailbox[r] == number && entry.owed(r);
      if (owed && (next == nullptr || entry.id < next->id)) next = &entry;
    }
    if (next == nullptr) break;
    last = next->id;
    if (deliverable(*next)) out[count++] = {next->id, next->size_bytes};
  }
  return count;
}

std::optional<OutboundMessage> Spool::next_outbound(MessageId after) {
  for (std::size_t round = 0; round < index_.size(); ++round) {
    IndexEntry* next = nullptr;
    std::uint32_t owed_mask = 0;
    for (IndexEntry& entry : index_) {
      if (entry.state != EntryState::committed || entry.id <= after) continue;
      if (next != nullptr && entry.id > next->id) continue;
      std::uint32_t mask = 0;
      for (std::uint8_t r = 0; r < entry.recipient_count; ++r) {
        if (entry.mailbox[r] == remote_mailbox && entry.owed(r)) mask |= 1u << r;
      }
      if (mask != 0) {
        next = &entry;
        owed_mask = mask;
      }
    }
    if (next == nullptr) return std::nullopt;
    if (deliverable(*next)) {
      return OutboundMessage{next->id,        next->size_bytes, next->body_8bit,   next->recipient_count,
                             owed_mask,       next->arrived_s,  next->attempts,    next->next_retry_s};
    }
    after = next->id;
  }
  return std::nullopt;
}

std::optional<std::string_view> Spool::read_sender(MessageId id, std::span<char> out) {
  IndexEntry* entry = find(id);
  if (entry == nullptr || entry->state != EntryState::committed) return std::nullopt;
  const std::span<std::uint8_t> payload(scratch.data(), entry->envelope_bytes);
  if (flash_.read(entry->begin_address + record_header_bytes, payload) != hal::FlashStatus::ok ||
      crc32(payload) != entry->envelope_crc) {
    return std::nullopt;
  }
  const auto head = parse_envelope_head(payload);
  if (!head || head->sender.size() > out.size()) return std::nullopt;
  std::copy(head->sender.begin(), head->sender.end(), out.begin());
  return std::string_view(out.data(), head->sender.size());
}

std::optional<std::string_view> Spool::read_recipient(MessageId id, std::uint8_t recipient_index,
                                                      std::span<char> out) {
  IndexEntry* entry = find(id);
  if (entry == nullptr || entry->state != EntryState::committed || recipient_index >= entry->recipient_count) {
    return std::nullopt;
  }
  const std::span<std::uint8_t> payload(scratch.data(), entry->envelope_bytes);
  if (flash_.read(entry->begin_address + record_header_bytes, payload) != hal::FlashStatus::ok ||
      crc32(payload) != entry->envelope_crc) {
    return std::nullopt;
  }
  const auto head = parse_envelope_head(payload);
  std::optional<std::string_view> found;
  if (!head) return std::nullopt;
  for_each_recipient(payload, *head, [&](std::uint8_t r, std::string_view address, std::string_view) {
    if (r != recipient_index || address.size() > out.size()) return;
    std::copy(address.begin(), address.end(), out.begin());
    found = std::string_view(out.data(), address.size());
  });
  return found;
}

std::size_t Spool::read(MessageId id, std::uint32_t offset, std::span<std::uint8_t> out) {
  IndexEntry* entry = find(id);
  if (entry == nullptr || entry->state != EntryState::committed || offset >= entry->size_bytes || out.empty()) {
    return 0;
  }
  auto cursor = std::find_if(cursors_.begin(), cursors_.end(), [&](const Cursor& c) {
    return c.valid && c.id == id && c.logical_offset <= offset;
  });
  if (cursor == cursors_.end()) {
    cursor = cursors_.begin() + static_cast<std::ptrdiff_t>(next_cursor_);
    next_cursor_ = (next_cursor_ + 1) % cursors_.size();
    *cursor = Cursor{id, 0, entry->begin_address, true};
  }
  RecordHeader header;
  while (next_record_of(id, cursor->record_address, header) && header.type != commit_record) {
    if (header.type == data_record) {
      if (offset < cursor->logical_offset + header.payload_bytes) {
        const std::uint32_t within = offset - cursor->logical_offset;
        const std::size_t length = std::min<std::size_t>(out.size(), header.payload_bytes - within);
        const std::uint32_t from = cursor->record_address + record_header_bytes + within;
        return flash_.read(from, out.first(length)) == hal::FlashStatus::ok ? length : 0;
      }
      cursor->logical_offset += header.payload_bytes;
    }
    cursor->record_address += align(record_header_bytes + header.payload_bytes);
  }
  return 0;
}

void Spool::apply_outcome(IndexEntry& entry, std::uint32_t mask, RecipientOutcome outcome) {
  for (std::uint8_t r = 0; r < entry.recipient_count; ++r) {
    if ((mask >> r) & 1u && entry.owed(r)) entry.outcomes |= std::uint64_t{static_cast<std::uint8_t>(outcome)} << (2 * r);
  }
}

// Outcome records may use the reserve: they are what lets space be reclaimed.
SpoolStatus Spool::record_outcome(IndexEntry& entry, std::uint32_t mask, RecipientOutcome outcome) {
  std::array<std::uint8_t, outcome_payload_bytes> payload{};
  payload[0] = static_cast<std::uint8_t>(outcome);
  put_u32(payload.data() + 4, mask);
  if (const SpoolStatus status = append_record(outcome_record, entry.id, payload, SpaceFor::outcome);
      status != SpoolStatus::ok) {
    return status;
  }
  apply_outcome(entry, mask, outcome);
  if (entry.dead()) {
    release_entry(entry);
    drop_dead_tail();
  }
  return SpoolStatus::ok;
}

SpoolStatus Spool::mark_recipient(MessageId id, std::uint8_t recipient_index, RecipientOutcome outcome) {
  IndexEntry* entry = find(id);
  if (entry == nullptr || entry->state != EntryState::committed || recipient_index >= entry->recipient_count) {
    return SpoolStatus::not_found;
  }
  if (!entry->owed(recipient_index)) return SpoolStatus::ok;
  return record_outcome(*entry, 1u << recipient_index, outcome);
}

SpoolStatus Spool::mark_deleted(MessageId id, std::string_view mailbox) {
  IndexEntry* entry = find(id);
  const std::uint8_t number = mailbox_number_of(mailbox);
  if (entry == nullptr || entry->state != EntryState::committed || number == remote_mailbox ||
      number == unknown_mailbox) {
    return SpoolStatus::not_found;
  }
  std::uint32_t mask = 0;
  bool addressed = false;
  for (std::uint8_t r = 0; r < entry->recipient_count; ++r) {
    addressed |= entry->mailbox[r] == number;
    if (entry->mailbox[r] == number && entry->owed(r)) mask |= 1u << r;
  }
  if (!addressed) return SpoolStatus::not_found;
  if (mask == 0) return SpoolStatus::ok;
  return record_outcome(*entry, mask, RecipientOutcome::deleted);
}

SpoolStatus Spool::record_attempt(MessageId id, std::uint32_t recipients_mask, const SpoolAttempt& attempt) {
  IndexEntry* entry = find(id);
  if (entry == nullptr || entry->state != EntryState::committed) return SpoolStatus::not_found;
  std::array<std::uint8_t, max_attempt_payload_bytes> payload{};
  const std::uint32_t length = encode_attempt(recipients_mask, attempt, payload);
  std::uint32_t address = 0;
  // Like new mail, never from the reserve: the record is advice, not a promise.
  if (const SpoolStatus status =
          append_record(attempt_record, id, {payload.data(), length}, SpaceFor::new_mail, &address);
      status != SpoolStatus::ok) {
    return status;
  }
  entry->attempts = attempt.attempts;
  entry->next_retry_s = attempt.next_retry_s;
  entry->attempt_address = address;
  return SpoolStatus::ok;
}

Spool::Usage Spool::usage() const {
  Usage usage{0, free_sectors(), sector_count_};
  for (const IndexEntry& entry : index_) usage.messages += entry.state == EntryState::committed ? 1 : 0;
  return usage;
}

}  // namespace pigeon
