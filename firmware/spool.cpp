#include "spool.hpp"

#include <algorithm>
#include <cstring>

#include "crc32.hpp"

namespace pigeon {
namespace {

constexpr std::uint32_t sector_magic = 0x50534750;  // "PGSP" little-endian
constexpr std::uint16_t format_version = 1;
constexpr std::uint32_t sector_header_bytes = 20;
constexpr std::uint32_t record_header_bytes = 20;
constexpr std::uint8_t record_marker = 0xA5;

enum RecordType : std::uint8_t { begin_record = 1, data_record = 2, commit_record = 3, done_record = 4 };

// The largest record: a BEGIN with a full envelope, or a DATA piece.
constexpr std::size_t max_payload_bytes =
    std::max<std::size_t>(PIGEON_SPOOL_WRITE_BUFFER_BYTES,
                          4 + 256 + PIGEON_ENVELOPE_BYTES + PIGEON_MAX_RECIPIENTS * (3 + 64));
constexpr std::size_t scratch_bytes = record_header_bytes + max_payload_bytes + 256;

// One static scratch for building and reading records: the relay is single-threaded.
std::array<std::uint8_t, scratch_bytes> scratch;

void put_u16(std::uint8_t* out, std::uint32_t value) {
  out[0] = static_cast<std::uint8_t>(value);
  out[1] = static_cast<std::uint8_t>(value >> 8);
}
void put_u32(std::uint8_t* out, std::uint32_t value) {
  put_u16(out, value & 0xFFFF);
  put_u16(out + 2, value >> 16);
}
std::uint32_t get_u16(const std::uint8_t* in) { return in[0] | (in[1] << 8); }
std::uint32_t get_u32(const std::uint8_t* in) { return get_u16(in) | (get_u16(in + 2) << 16); }

// Appends length-prefixed fields to a buffer, refusing what does not fit.
class FieldWriter {
 public:
  explicit FieldWriter(std::span<std::uint8_t> out) : out_(out) {}
  void u8(std::uint32_t value) { put(static_cast<std::uint8_t>(value)); }
  void u16(std::uint32_t value) {
    u8(value & 0xFF);
    u8(value >> 8);
  }
  void text(std::string_view value) {
    for (char c : value) put(static_cast<std::uint8_t>(c));
  }
  bool ok() const { return !overflow_; }
  std::size_t size() const { return used_; }

 private:
  void put(std::uint8_t byte) {
    if (used_ == out_.size()) {
      overflow_ = true;
      return;
    }
    out_[used_++] = byte;
  }
  std::span<std::uint8_t> out_;
  std::size_t used_ = 0;
  bool overflow_ = false;
};

}  // namespace

struct Spool::RecordHeader {
  std::uint8_t type = 0;
  MessageId id = 0;
  std::uint32_t payload_length = 0;
  std::uint32_t payload_crc = 0;
};

std::size_t format_message_id(MessageId id, std::span<char> out) {
  constexpr std::string_view hex = "0123456789ABCDEF";
  if (out.size() < 8) return 0;
  for (std::size_t i = 0; i < 8; ++i) out[i] = hex[(id >> (28 - 4 * i)) & 0xF];
  return 8;
}

std::uint32_t Spool::align(std::uint32_t bytes) const {
  return (bytes + unit_bytes_ - 1) / unit_bytes_ * unit_bytes_;
}

SpoolStatus Spool::mount() {
  const hal::FlashGeometry geometry = flash_.geometry();
  sector_bytes_ = geometry.sector_size_bytes;
  sector_count_ = std::min<std::uint32_t>(geometry.sector_count, PIGEON_SPOOL_MAX_SECTORS);
  unit_bytes_ = geometry.program_unit_bytes;
  if (sector_count_ < 2 || align(sector_header_bytes) + align(scratch_bytes) > sector_bytes_) {
    return SpoolStatus::flash_error;
  }
  index_ = {};
  writers_ = {};
  cursors_ = {};
  sectors_ = {};

  // Every sector header once: which sectors hold the log, in what order.
  bool any = false;
  std::uint32_t newest = 0, oldest = 0;
  for (std::uint32_t s = 0; s < sector_count_; ++s) {
    std::array<std::uint8_t, sector_header_bytes> header{};
    if (flash_.read(s * sector_bytes_, header) != hal::FlashStatus::ok) return SpoolStatus::flash_error;
    const bool valid = get_u32(header.data()) == sector_magic && get_u16(header.data() + 4) == format_version &&
                       get_u32(header.data() + 16) == crc32({header.data(), 16});
    if (!valid) continue;
    Sector& sector = sectors_[s];
    sector.in_log = true;
    sector.sequence = get_u32(header.data() + 8);
    sector.erase_count = get_u32(header.data() + 12);
    if (!any || sector.sequence > sectors_[newest].sequence) newest = s;
    if (!any || sector.sequence < sectors_[oldest].sequence) oldest = s;
    any = true;
  }
  if (!any) return format();

  tail_sector_ = oldest;
  head_sector_ = newest;
  next_sequence_ = sectors_[newest].sequence + 1;
  for (std::uint32_t s = tail_sector_;; s = (s + 1) % sector_count_) {
    if (sectors_[s].in_log) replay_sector(s);
    if (s == head_sector_) break;
  }

  // Uncommitted messages were never acknowledged: drop them. Dead ones are done.
  for (IndexEntry& entry : index_) {
    if (entry.used && (!entry.committed || entry.dead())) release_entry(entry);
  }
  // New records go after the last valid one, unless the rest of the head
  // sector is not blank (a torn record): then into a fresh sector.
  std::array<std::uint8_t, 256> probe{};
  for (std::uint32_t offset = head_offset_; offset < sector_bytes_; offset += probe.size()) {
    const std::uint32_t length = std::min<std::uint32_t>(probe.size(), sector_bytes_ - offset);
    if (flash_.read(head_sector_ * sector_bytes_ + offset, {probe.data(), length}) != hal::FlashStatus::ok) {
      return SpoolStatus::flash_error;
    }
    if (!std::all_of(probe.begin(), probe.begin() + length, [](std::uint8_t b) { return b == 0xFF; })) {
      return advance_head();
    }
  }
  return SpoolStatus::ok;
}

SpoolStatus Spool::format() {
  next_sequence_ = 1;
  tail_sector_ = 0;
  return start_sector(0);
}

// Erases `sector` (unless it is already blank) and writes its header: it
// becomes the head of the log.
SpoolStatus Spool::start_sector(std::uint32_t sector) {
  Sector& state = sectors_[sector];
  std::array<std::uint8_t, 256> probe{};
  bool blank = true;
  for (std::uint32_t offset = 0; offset < sector_bytes_ && blank; offset += probe.size()) {
    if (flash_.read(sector * sector_bytes_ + offset, probe) != hal::FlashStatus::ok) return SpoolStatus::flash_error;
    blank = std::all_of(probe.begin(), probe.end(), [](std::uint8_t b) { return b == 0xFF; });
  }
  if (!blank) {
    if (flash_.erase(sector) != hal::FlashStatus::ok) return SpoolStatus::flash_error;
    ++state.erase_count;
  }
  std::array<std::uint8_t, 256> header{};
  header.fill(0xFF);
  put_u32(header.data(), sector_magic);
  put_u16(header.data() + 4, format_version);
  put_u16(header.data() + 6, 0);
  put_u32(header.data() + 8, next_sequence_);
  put_u32(header.data() + 12, state.erase_count);
  put_u32(header.data() + 16, crc32({header.data(), 16}));
  if (flash_.program(sector * sector_bytes_, {header.data(), align(sector_header_bytes)}) != hal::FlashStatus::ok) {
    return SpoolStatus::flash_error;
  }
  state.in_log = true;
  state.sequence = next_sequence_++;
  state.live_begins = 0;
  head_sector_ = sector;
  head_offset_ = align(sector_header_bytes);
  return SpoolStatus::ok;
}

// Moves the head to the next sector in ring order, reclaiming the oldest
// sector first when the ring is closed and nothing in it is alive.
SpoolStatus Spool::advance_head() {
  const std::uint32_t next = (head_sector_ + 1) % sector_count_;
  if (sectors_[next].in_log) {
    if (next != tail_sector_ || sectors_[next].live_begins != 0) return SpoolStatus::full;
    sectors_[next].in_log = false;
    tail_sector_ = (tail_sector_ + 1) % sector_count_;
  }
  return start_sector(next);
}

SpoolStatus Spool::append_record(std::uint8_t type, MessageId id, std::span<const std::uint8_t> payload,
                                 std::uint32_t* address_out) {
  const std::uint32_t size = align(record_header_bytes + static_cast<std::uint32_t>(payload.size()));
  if (size > scratch.size()) return SpoolStatus::full;
  if (head_offset_ + size > sector_bytes_) {
    if (const SpoolStatus status = advance_head(); status != SpoolStatus::ok) return status;
  }
  std::uint8_t* record = scratch.data();
  // The payload may already sit in the scratch (BEGIN is built there): move it first.
  std::memmove(record + record_header_bytes, payload.data(), payload.size());
  std::fill(record + record_header_bytes + payload.size(), record + size, 0xFF);
  record[0] = record_marker;
  record[1] = type;
  put_u16(record + 2, 0);
  put_u32(record + 4, id);
  put_u32(record + 8, static_cast<std::uint32_t>(payload.size()));
  put_u32(record + 12, crc32({record + record_header_bytes, payload.size()}));
  put_u32(record + 16, crc32({record, 16}));
  const std::uint32_t address = head_sector_ * sector_bytes_ + head_offset_;
  if (flash_.program(address, {record, size}) != hal::FlashStatus::ok) return SpoolStatus::flash_error;
  head_offset_ += size;
  if (address_out != nullptr) *address_out = address;
  return SpoolStatus::ok;
}

bool Spool::read_header(std::uint32_t address, RecordHeader& header) {
  if (address % sector_bytes_ + record_header_bytes > sector_bytes_) return false;
  std::array<std::uint8_t, record_header_bytes> bytes{};
  if (flash_.read(address, bytes) != hal::FlashStatus::ok) return false;
  if (bytes[0] != record_marker || get_u32(bytes.data() + 16) != crc32({bytes.data(), 16})) return false;
  header.type = bytes[1];
  header.id = get_u32(bytes.data() + 4);
  header.payload_length = get_u32(bytes.data() + 8);
  header.payload_crc = get_u32(bytes.data() + 12);
  return address % sector_bytes_ + align(record_header_bytes + header.payload_length) <= sector_bytes_;
}

std::uint32_t Spool::next_record_address(std::uint32_t address, const RecordHeader& header) const {
  return address + align(record_header_bytes + header.payload_length);
}

// The first record address of the sector after `sector` in the log, if any.
std::optional<std::uint32_t> Spool::next_address_after_sector(std::uint32_t sector) const {
  if (sector == head_sector_) return std::nullopt;
  const std::uint32_t next = (sector + 1) % sector_count_;
  if (!sectors_[next].in_log) return std::nullopt;
  return next * sector_bytes_ + align(sector_header_bytes);
}

void Spool::replay_sector(std::uint32_t sector) {
  std::uint32_t address = sector * sector_bytes_ + align(sector_header_bytes);
  RecordHeader header;
  while (read_header(address, header)) {
    replay_record(address, header);
    address = next_record_address(address, header);
  }
  if (sector == head_sector_) head_offset_ = address % sector_bytes_;
}

void Spool::replay_record(std::uint32_t address, const RecordHeader& header) {
  next_id_ = std::max(next_id_, header.id + 1);
  if (header.type == data_record) return;  // read when the message is verified
  if (header.payload_length > max_payload_bytes ||
      flash_.read(address + record_header_bytes, {scratch.data(), header.payload_length}) != hal::FlashStatus::ok ||
      crc32({scratch.data(), header.payload_length}) != header.payload_crc) {
    return;  // a torn or corrupt record counts as never written
  }
  const std::uint8_t* payload = scratch.data();
  if (header.type == begin_record) {
    IndexEntry* entry = free_entry();
    if (entry == nullptr) return;
    *entry = IndexEntry{};
    entry->used = true;
    entry->id = header.id;
    entry->begin_address = address;
    entry->recipient_count = payload[1];
    std::uint32_t offset = 4 + get_u16(payload + 2);
    for (std::uint8_t r = 0; r < entry->recipient_count && r < PIGEON_MAX_RECIPIENTS; ++r) {
      const std::uint32_t address_length = get_u16(payload + offset);
      const std::uint8_t mailbox_length = payload[offset + 2];
      const std::string_view mailbox(reinterpret_cast<const char*>(payload + offset + 3 + address_length),
                                     mailbox_length);
      entry->mailbox[r] = mailbox.empty() ? remote_mailbox : mailboxes_.mailbox_number(mailbox).value_or(remote_mailbox);
      offset += 3 + address_length + mailbox_length;
    }
    ++sectors_[sector_of(address)].live_begins;
    return;
  }
  IndexEntry* entry = find(header.id);
  if (entry == nullptr) return;
  if (header.type == commit_record && header.payload_length == 8) {
    entry->committed = true;
    entry->size_bytes = get_u32(payload);
    entry->crc = get_u32(payload + 4);
  } else if (header.type == done_record && header.payload_length == 4) {
    entry->done_mask |= get_u32(payload);
  }
}

SpoolStatus Spool::open_message(const SpoolEnvelope& envelope, SpoolWriter& writer) {
  if (envelope.recipients.empty() || envelope.recipients.size() > PIGEON_MAX_RECIPIENTS) {
    return SpoolStatus::too_many;
  }
  auto slot = std::find_if(writers_.begin(), writers_.end(), [](const Writer& w) { return !w.open; });
  IndexEntry* entry = free_entry();
  if (slot == writers_.end() || entry == nullptr) return SpoolStatus::too_many;

  FieldWriter fields({scratch.data() + record_header_bytes, max_payload_bytes});
  fields.u8(envelope.body_8bit ? 1 : 0);
  fields.u8(static_cast<std::uint32_t>(envelope.recipients.size()));
  fields.u16(static_cast<std::uint32_t>(envelope.sender.size()));
  fields.text(envelope.sender);
  for (const SpoolRecipient& recipient : envelope.recipients) {
    fields.u16(static_cast<std::uint32_t>(recipient.address.size()));
    fields.u8(static_cast<std::uint32_t>(recipient.mailbox.size()));
    fields.text(recipient.address);
    fields.text(recipient.mailbox);
  }
  if (!fields.ok()) return SpoolStatus::too_many;

  const MessageId id = next_id_++;
  std::uint32_t address = 0;
  const SpoolStatus status =
      append_record(begin_record, id, {scratch.data() + record_header_bytes, fields.size()}, &address);
  if (status != SpoolStatus::ok) return status;

  *entry = IndexEntry{};
  entry->used = true;
  entry->id = id;
  entry->begin_address = address;
  entry->recipient_count = static_cast<std::uint8_t>(envelope.recipients.size());
  for (std::size_t r = 0; r < envelope.recipients.size(); ++r) {
    const std::string_view mailbox = envelope.recipients[r].mailbox;
    entry->mailbox[r] = mailbox.empty() ? remote_mailbox : mailboxes_.mailbox_number(mailbox).value_or(remote_mailbox);
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
  if (const SpoolStatus status = append_record(data_record, entry.id, piece); status != SpoolStatus::ok) {
    return status;
  }
  writer.crc = crc32(piece, writer.crc);
  writer.length += writer.buffered;
  writer.buffered = 0;
  return SpoolStatus::ok;
}

SpoolStatus Spool::commit(const SpoolWriter& handle) {
  Writer& writer = writers_[handle.slot_];
  IndexEntry& entry = index_[writer.index_slot];
  if (const SpoolStatus status = flush_writer(writer); status != SpoolStatus::ok) {
    discard(handle);
    return status;
  }
  std::array<std::uint8_t, 8> payload{};
  put_u32(payload.data(), writer.length);
  put_u32(payload.data() + 4, writer.crc);
  std::uint32_t address = 0;
  SpoolStatus status = append_record(commit_record, entry.id, payload, &address);
  // Read the commit record back: the 250 must not rest on a failed program.
  RecordHeader check;
  std::array<std::uint8_t, 8> stored{};
  if (status == SpoolStatus::ok &&
      (!read_header(address, check) || check.type != commit_record ||
       flash_.read(address + record_header_bytes, stored) != hal::FlashStatus::ok || stored != payload)) {
    status = SpoolStatus::flash_error;
  }
  if (status != SpoolStatus::ok) {
    discard(handle);
    return status;
  }
  entry.committed = true;
  entry.size_bytes = writer.length;
  entry.crc = writer.crc;
  writer.open = false;
  return SpoolStatus::ok;
}

void Spool::discard(const SpoolWriter& handle) {
  Writer& writer = writers_[handle.slot_];
  if (!writer.open) return;
  writer.open = false;
  release_entry(index_[writer.index_slot]);
}

SpoolStatus Spool::sync() {
  return flash_.sync() == hal::FlashStatus::ok ? SpoolStatus::ok : SpoolStatus::flash_error;
}

Spool::IndexEntry* Spool::find(MessageId id) {
  for (IndexEntry& entry : index_) {
    if (entry.used && entry.id == id) return &entry;
  }
  return nullptr;
}

Spool::IndexEntry* Spool::free_entry() {
  for (IndexEntry& entry : index_) {
    if (!entry.used) return &entry;
  }
  return nullptr;
}

void Spool::release_entry(IndexEntry& entry) {
  Sector& sector = sectors_[sector_of(entry.begin_address)];
  if (sector.live_begins > 0) --sector.live_begins;
  entry.used = false;
  for (Cursor& cursor : cursors_) {
    if (cursor.valid && cursor.id == entry.id) cursor.valid = false;
  }
}

// Walks the message's records: each DATA payload must match its CRC, and all
// of them together the length and CRC of the commit record.
bool Spool::verify_message(IndexEntry& entry) {
  std::uint32_t address = entry.begin_address;
  std::uint32_t length = 0, crc = 0;
  RecordHeader header;
  for (;;) {
    if (!read_header(address, header)) {
      const auto next = next_address_after_sector(sector_of(address));
      if (!next) return false;
      address = *next;
      continue;
    }
    if (header.id == entry.id && header.type == commit_record) break;
    if (header.id == entry.id && header.type == data_record) {
      if (header.payload_length > max_payload_bytes ||
          flash_.read(address + record_header_bytes, {scratch.data(), header.payload_length}) != hal::FlashStatus::ok) {
        return false;
      }
      const std::span<const std::uint8_t> piece(scratch.data(), header.payload_length);
      if (crc32(piece) != header.payload_crc) return false;
      crc = crc32(piece, crc);
      length += header.payload_length;
    }
    address = next_record_address(address, header);
  }
  return length == entry.size_bytes && crc == entry.crc;
}

std::size_t Spool::list_mailbox(std::string_view mailbox, std::span<MaildropEntry> out) {
  const auto number = mailboxes_.mailbox_number(mailbox);
  if (!number) return 0;
  std::size_t count = 0;
  // Oldest first: ids grow with time.
  for (MessageId last = 0; count < out.size();) {
    IndexEntry* next = nullptr;
    for (IndexEntry& entry : index_) {
      if (!entry.used || !entry.committed || entry.id <= last) continue;
      bool owed = false;
      for (std::uint8_t r = 0; r < entry.recipient_count; ++r) {
        owed |= entry.mailbox[r] == *number && !(entry.done_mask & (1u << r));
      }
      if (owed && (next == nullptr || entry.id < next->id)) next = &entry;
    }
    if (next == nullptr) break;
    last = next->id;
    if (!next->verified) next->verified = verify_message(*next);
    if (next->verified) out[count++] = {next->id, next->size_bytes};
  }
  return count;
}

std::size_t Spool::read(MessageId id, std::uint32_t offset, std::span<std::uint8_t> out) {
  IndexEntry* entry = find(id);
  if (entry == nullptr || !entry->committed || offset >= entry->size_bytes || out.empty()) return 0;
  auto cursor = std::find_if(cursors_.begin(), cursors_.end(), [&](const Cursor& c) {
    return c.valid && c.id == id && c.logical_offset <= offset;
  });
  if (cursor == cursors_.end()) {
    cursor = cursors_.begin() + static_cast<std::ptrdiff_t>(next_cursor_);
    next_cursor_ = (next_cursor_ + 1) % cursors_.size();
    *cursor = Cursor{id, 0, entry->begin_address, true};
  }
  RecordHeader header;
  for (;;) {
    if (!read_header(cursor->record_address, header)) {
      const auto next = next_address_after_sector(sector_of(cursor->record_address));
      if (!next) return 0;
      cursor->record_address = *next;
      continue;
    }
    if (header.id == id && header.type == commit_record) return 0;
    if (header.id == id && header.type == data_record) {
      if (offset < cursor->logical_offset + header.payload_length) {
        const std::uint32_t within = offset - cursor->logical_offset;
        const std::size_t length = std::min<std::size_t>(out.size(), header.payload_length - within);
        const std::uint32_t from = cursor->record_address + record_header_bytes + within;
        return flash_.read(from, out.first(length)) == hal::FlashStatus::ok ? length : 0;
      }
      cursor->logical_offset += header.payload_length;
    }
    cursor->record_address = next_record_address(cursor->record_address, header);
  }
}

SpoolStatus Spool::mark_deleted(MessageId id, std::string_view mailbox) {
  IndexEntry* entry = find(id);
  const auto number = mailboxes_.mailbox_number(mailbox);
  if (entry == nullptr || !number) return SpoolStatus::not_found;
  std::uint32_t mask = 0;
  for (std::uint8_t r = 0; r < entry->recipient_count; ++r) {
    if (entry->mailbox[r] == *number) mask |= 1u << r;
  }
  std::array<std::uint8_t, 4> payload{};
  put_u32(payload.data(), mask);
  if (const SpoolStatus status = append_record(done_record, id, payload); status != SpoolStatus::ok) {
    return status;
  }
  entry->done_mask |= mask;
  if (entry->dead()) release_entry(*entry);
  return SpoolStatus::ok;
}

Spool::Usage Spool::usage() const {
  Usage usage{0, 0, sector_count_};
  for (const IndexEntry& entry : index_) usage.messages += entry.used && entry.committed ? 1 : 0;
  for (std::uint32_t s = 0; s < sector_count_; ++s) usage.free_sectors += sectors_[s].in_log ? 0 : 1;
  return usage;
}

}  // namespace pigeon
