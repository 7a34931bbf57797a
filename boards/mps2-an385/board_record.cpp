#include "board_record.hpp"

#include <cstddef>
#include <span>

#include "firmware/crc32.hpp"

namespace pigeon::board {
namespace {

constexpr std::uint32_t record_magic = 0x50474231;  // "PGB1"

std::span<std::uint8_t> bytes_of(BoardRecord& record) {
  return {reinterpret_cast<std::uint8_t*>(&record), sizeof record};
}

std::uint32_t checksum(BoardRecord& record) {
  return crc32(bytes_of(record).first(offsetof(BoardRecord, crc)));
}

bool read_copy(hal::Flash& flash, std::uint32_t sector, BoardRecord& out) {
  const std::uint32_t address = sector * flash.geometry().sector_size_bytes;
  return flash.read(address, bytes_of(out)) == hal::FlashStatus::ok && out.magic == record_magic &&
         out.crc == checksum(out) && out.key_length <= out.key_pem.size() &&
         out.cert_length <= out.cert_pem.size() && out.password_length <= out.password.size();
}

}  // namespace

bool load_board_record(hal::Flash& flash, BoardRecord& out) {
  BoardRecord other;
  const bool first = read_copy(flash, 0, out);
  const bool second = read_copy(flash, 1, other);
  if (second && (!first || static_cast<std::int32_t>(other.sequence - out.sequence) > 0)) out = other;
  return first || second;
}

bool save_board_record(hal::Flash& flash, BoardRecord& record) {
  BoardRecord current;
  const bool have_current = load_board_record(flash, current);
  // The copy in sector (sequence % 2) is the newest; write the other one.
  const std::uint32_t sequence = have_current ? current.sequence + 1 : 1;
  const std::uint32_t sector = sequence % 2;
  record.magic = record_magic;
  record.sequence = sequence;
  record.crc = checksum(record);
  return flash.erase(sector) == hal::FlashStatus::ok &&
         flash.program(sector * flash.geometry().sector_size_bytes, bytes_of(record)) == hal::FlashStatus::ok;
}

}  // namespace pigeon::board
