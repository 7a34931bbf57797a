#include "spool_log.hpp"

#include <algorithm>
#include <cstring>

#include "crc32.hpp"
#include "protocol/assert.hpp"

namespace pigeon {
namespace {

namespace format = spool_format;

constexpr auto record_header_bytes = static_cast<std::uint32_t>(format::RecordHeader::bytes);

// The payload decodes as what its type says: a record is checked this way
// before it is programmed.
bool payload_decodes(format::RecordType type, std::span<const std::uint8_t> payload) {
  switch (type) {
    case format::RecordType::begin: return format::Envelope::decode(payload).has_value();
    case format::RecordType::data: return true;
    case format::RecordType::commit: return format::Commit::decode(payload).has_value();
    case format::RecordType::outcome: return format::Outcome::decode(payload).has_value();
    case format::RecordType::attempt: return format::Attempt::decode(payload).has_value();
    case format::RecordType::recipient: return format::RecipientRecord::decode(payload).has_value();
    case format::RecordType::mailbox_state: return format::MailboxStates::decode(payload).has_value();
  }
  return false;
}

}  // namespace

// An id from flash: the last id (which would wrap) is never taken.
void SpoolLog::saw_message_id(MessageId id) { next_id_ = std::max(next_id_, id == UINT32_MAX ? id : id + 1); }

SpoolStatus SpoolLog::sync() {
  return flash_.sync() == hal::FlashStatus::ok ? SpoolStatus::ok : SpoolStatus::flash_error;
}

std::uint32_t SpoolLog::record_bytes(std::uint32_t payload_bytes) const {
  return align(record_header_bytes + payload_bytes);
}

// The reserve is the caller's business (it knows who asks); the log only
// refuses to open a sector that would leave fewer than `keep_free_sectors`.
SpoolStatus SpoolLog::prepare(std::uint32_t record_bytes, std::uint32_t keep_free_sectors) {
  if (record_bytes > usable_sector_bytes()) return SpoolStatus::full;
  if (fits_in_head(record_bytes)) return SpoolStatus::ok;
  const std::uint32_t next = following(head_sector_);
  if (free_sectors() <= keep_free_sectors || sectors_[next].in_log) return SpoolStatus::full;
  return start_sector(next);
}

SpoolLog::ScratchPayload SpoolLog::lease_scratch(std::uint32_t payload_bytes) {
  const bool fits_scratch = payload_bytes <= max_payload_bytes;
  PIGEON_ASSERT(fits_scratch);
  return {{scratch_payload(), payload_bytes}, ++lease_};
}

SpoolLog::ScratchPayload SpoolLog::draft(std::uint32_t payload_bytes) { return lease_scratch(payload_bytes); }

SpoolStatus SpoolLog::append(RecordType type, MessageId id, std::span<const std::uint8_t> payload,
                             std::uint32_t* address_out) {
  const std::uint8_t* scratch_end = scratch_.data() + scratch_.size();
  const bool outside_scratch =
      payload.empty() || payload.data() >= scratch_end || payload.data() + payload.size() <= scratch_.data();
  PIGEON_ASSERT(outside_scratch);
  const ScratchPayload copy = lease_scratch(static_cast<std::uint32_t>(payload.size()));
  if (!payload.empty()) std::memcpy(copy.bytes.data(), payload.data(), payload.size());
  return append(type, id, copy, address_out);
}

SpoolStatus SpoolLog::append(RecordType type, MessageId id, ScratchPayload payload, std::uint32_t* address_out) {
  // The payload is still what its holder built or read: nothing took the scratch since.
  const bool scratch_still_held = payload.lease == lease_ && payload.bytes.data() == scratch_payload();
  PIGEON_ASSERT(scratch_still_held);
  const auto payload_bytes = static_cast<std::uint32_t>(payload.bytes.size());
  const std::uint32_t size = record_bytes(payload_bytes);
  // The caller made room with prepare(): running out here is a bug, not a full spool.
  const bool prepared = fits_in_head(size);
  PIGEON_ASSERT(prepared);
  const RecordHeader header{type, 0, static_cast<std::uint16_t>(payload_bytes), id, crc32(payload.bytes)};
  header.encode(scratch_);
  const bool decodes_as_encoded = RecordHeader::decode(scratch_) == header && payload_decodes(type, payload.bytes);
  PIGEON_ASSERT(decodes_as_encoded);
  std::fill(scratch_payload() + payload_bytes, scratch_.data() + size, 0xFF);
  const std::uint32_t address = head_sector_ * sector_bytes_ + head_offset_;
  if (flash_.program(address, {scratch_.data(), size}) != hal::FlashStatus::ok) return SpoolStatus::flash_error;
  head_offset_ += size;
  if (address_out != nullptr) *address_out = address;
  return SpoolStatus::ok;
}

std::optional<SpoolLog::RecordHeader> SpoolLog::read_header(std::uint32_t address) {
  const std::uint32_t offset = address % sector_bytes_;
  if (offset < data_offset_ || offset + RecordHeader::bytes > sector_bytes_) return std::nullopt;
  std::array<std::uint8_t, RecordHeader::bytes> bytes{};
  if (flash_.read(address, bytes) != hal::FlashStatus::ok) return std::nullopt;
  const std::optional<RecordHeader> header = RecordHeader::decode(bytes);
  // A record ends inside its sector (§3).
  if (!header || offset + record_bytes(header->payload_bytes) > sector_bytes_) return std::nullopt;
  return header;
}

std::optional<SpoolLog::ScratchPayload> SpoolLog::read_payload(std::uint32_t address, const RecordHeader& header) {
  return read_payload(address, header.payload_bytes, header.payload_crc);
}

std::optional<SpoolLog::ScratchPayload> SpoolLog::read_payload(std::uint32_t address, std::uint32_t payload_bytes,
                                                               std::uint32_t payload_crc) {
  // A valid header may still name more than this build ever writes.
  if (payload_bytes > max_payload_bytes) return std::nullopt;
  const ScratchPayload payload = lease_scratch(payload_bytes);
  if (flash_.read(address + record_header_bytes, payload.bytes) != hal::FlashStatus::ok ||
      crc32(payload.bytes) != payload_crc) {
    return std::nullopt;
  }
  return payload;
}

bool SpoolLog::read_payload_bytes(std::uint32_t address, std::uint32_t offset, std::span<std::uint8_t> out) {
  return flash_.read(address + record_header_bytes + offset, out) == hal::FlashStatus::ok;
}

std::optional<SpoolLog::RecordHeader> SpoolLog::next_record_of(MessageId id, std::uint32_t& address) {
  for (std::uint32_t jumps = 0; jumps <= sector_count_;) {
    if (const std::optional<RecordHeader> header = read_header(address)) {
      if (header->message_id == id) return header;
      address = next_address(address, *header);
      continue;
    }
    // `address` is inside its sector or just past its end.
    const std::uint32_t sector = sector_of(address - 1);
    const std::uint32_t next = following(sector);
    if (sector == head_sector_ || !sectors_[next].in_log) return std::nullopt;
    address = first_record(next);
    ++jumps;
  }
  return std::nullopt;
}

// The log wraps round the ring: across sectors, sequences give the order.
bool SpoolLog::precedes(std::uint32_t earlier, std::uint32_t later) const {
  const std::uint32_t earlier_sector = earlier / sector_bytes_, later_sector = sector_of(later);
  if (earlier_sector == later_sector) return earlier < later;
  return earlier_sector < sector_count_ && sectors_[earlier_sector].in_log &&
         sectors_[earlier_sector].sequence < sectors_[later_sector].sequence;
}

void SpoolLog::add_begin(std::uint32_t address) {
  Sector& sector = sectors_[sector_of(address)];
  const bool countable = sector.in_log && sector.live_begins < UINT32_MAX;
  PIGEON_ASSERT(countable);
  ++sector.live_begins;
}

void SpoolLog::remove_begin(std::uint32_t address) {
  Sector& sector = sectors_[sector_of(address)];
  const bool counted = sector.live_begins > 0;
  PIGEON_ASSERT(counted);
  --sector.live_begins;
}

void SpoolLog::drop_dead_tail() {
  while (tail_sector_ != head_sector_ && sectors_[tail_sector_].live_begins == 0) {
    Sector& sector = sectors_[tail_sector_];
    if (sector.in_log) {
      const bool head_stays = log_sectors_ > 1;
      PIGEON_ASSERT(head_stays);
      sector.in_log = false;
      --log_sectors_;
      retired_sequence_ = std::max(retired_sequence_, sector.sequence);
    }
    tail_sector_ = following(tail_sector_);
  }
}

std::uint32_t SpoolLog::dead_sectors_after(std::uint32_t sector) const {
  std::uint32_t dead = 0;
  for (std::uint32_t s = following(sector); s != head_sector_ && sectors_[s].live_begins == 0; s = following(s)) {
    ++dead;
  }
  return dead;
}

bool SpoolLog::sector_blank(std::uint32_t sector, std::uint32_t from_offset) {
  std::array<std::uint8_t, 256> probe{};
  for (std::uint32_t offset = from_offset; offset < sector_bytes_; offset += static_cast<std::uint32_t>(probe.size())) {
    const std::uint32_t length = std::min<std::uint32_t>(probe.size(), sector_bytes_ - offset);
    if (flash_.read(sector * sector_bytes_ + offset, {probe.data(), length}) != hal::FlashStatus::ok ||
        !format::erased({probe.data(), length})) {
      return false;
    }
  }
  return true;
}

// Erases `sector` unless it is blank, and writes its header: it becomes the
// head of the log (§6).
SpoolStatus SpoolLog::start_sector(std::uint32_t sector) {
  Sector& state = sectors_[sector];
  const bool free_sector = !state.in_log && log_sectors_ < sector_count_;
  PIGEON_ASSERT(free_sector);
  if (next_sequence_ == UINT32_MAX) return SpoolStatus::full;  // sequences never wrap
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
  const format::SectorHeader header{next_sequence_, state.erase_count, next_id_,     retired_sequence_,
                                    sector_bytes_,  static_cast<std::uint16_t>(unit_bytes_), uid_validity_};
  std::array<std::uint8_t, format::max_unit_bytes> bytes{};
  bytes.fill(0xFF);
  header.encode(bytes);
  const bool decodes_as_encoded = format::SectorHeader::decode(bytes) == header;
  PIGEON_ASSERT(decodes_as_encoded);
  if (flash_.program(sector * sector_bytes_, {bytes.data(), align(format::SectorHeader::bytes)}) !=
      hal::FlashStatus::ok) {
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
SpoolStatus SpoolLog::record_erase_intent() {
  Sector& head = sectors_[head_sector_];
  if (head.intents_written >= format::intent_slots) return SpoolStatus::ok;
  const format::EraseIntent intent{retired_sequence_, sectors_[following(head_sector_)].erase_count + 1};
  std::array<std::uint8_t, format::max_unit_bytes> bytes{};
  bytes.fill(0xFF);
  intent.encode(bytes);
  const bool decodes_as_encoded = format::EraseIntent::decode(bytes) == intent;
  PIGEON_ASSERT(decodes_as_encoded);
  const std::uint32_t address = head_sector_ * sector_bytes_ + align(format::SectorHeader::bytes) +
                                head.intents_written * align(format::EraseIntent::bytes);
  ++head.intents_written;
  if (flash_.program(address, {bytes.data(), align(format::EraseIntent::bytes)}) != hal::FlashStatus::ok) {
    return SpoolStatus::flash_error;
  }
  durable_retired_ = retired_sequence_;  // after the sync that precedes the erase
  return SpoolStatus::ok;
}

}  // namespace pigeon
