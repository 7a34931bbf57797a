// What the board keeps about itself in flash, next to the spool: the boot seed,
// the default user's password, and the server key and certificate made at first
// boot. Two sectors hold alternate copies with a sequence number and a CRC; a
// new copy goes to the older sector, so a power cut while saving leaves the
// previous copy intact.
#pragma once

#include <array>
#include <cstdint>

#include "hal/flash.hpp"

namespace pigeon::board {

struct alignas(16) BoardRecord {
  std::uint32_t magic = 0;
  std::uint32_t sequence = 0;
  std::array<std::uint8_t, 32> boot_seed{};
  std::array<char, 32> password{};
  std::uint16_t password_length = 0;
  std::uint16_t key_length = 0;
  std::uint16_t cert_length = 0;
  std::uint16_t reserved = 0;
  std::array<char, 320> key_pem{};
  std::array<char, 1056> cert_pem{};
  std::uint32_t crc = 0;
};
static_assert(sizeof(BoardRecord) % 16 == 0, "whole program units");

// The newest valid copy in `flash` (two sectors), or false when there is none
// (a new or blank image).
bool load_board_record(hal::Flash& flash, BoardRecord& out);
// Writes `record` with the next sequence number over the older copy.
bool save_board_record(hal::Flash& flash, BoardRecord& record);

}  // namespace pigeon::board
