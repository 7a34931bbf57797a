#include "file_flash.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace pigeon::hal {
namespace {

constexpr std::size_t chunk_bytes = 64 * 1024;

bool write_all(int fd, const std::uint8_t* data, std::size_t length, off_t offset) {
  while (length > 0) {
    const ssize_t written = ::pwrite(fd, data, length, offset);
    if (written <= 0) return false;
    data += written;
    length -= static_cast<std::size_t>(written);
    offset += written;
  }
  return true;
}

bool read_all(int fd, std::uint8_t* out, std::size_t length, off_t offset) {
  while (length > 0) {
    const ssize_t got = ::pread(fd, out, length, offset);
    if (got <= 0) return false;
    out += got;
    length -= static_cast<std::size_t>(got);
    offset += got;
  }
  return true;
}

}  // namespace

FileFlash::FileFlash() = default;

FileFlash::~FileFlash() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileFlash::open(const char* path, const FlashGeometry& geometry) {
  if (geometry.program_unit_bytes == 0 || geometry.sector_size_bytes % geometry.program_unit_bytes != 0 ||
      geometry.sector_count == 0 || geometry.total_bytes() / geometry.program_unit_bytes > max_units) {
    return false;
  }
  geometry_ = geometry;
  forget_cached(0, geometry.total_bytes());
  fd_ = ::open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return false;
  struct stat status{};
  if (::fstat(fd_, &status) != 0) return false;
  if (status.st_size == 0) {
    for (std::uint32_t sector = 0; sector < geometry.sector_count; ++sector) {
      if (erase(sector) != FlashStatus::ok) return false;
    }
    return sync() == FlashStatus::ok;
  }
  if (static_cast<std::uint64_t>(status.st_size) != geometry.total_bytes()) return false;
  return scan_programmed_units();
}

// A unit that is not all 0xFF has been programmed since its sector's erase.
bool FileFlash::scan_programmed_units() {
  std::array<std::uint8_t, chunk_bytes> chunk;
  const std::size_t unit = geometry_.program_unit_bytes;
  for (std::uint64_t offset = 0; offset < geometry_.total_bytes(); offset += chunk.size()) {
    const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), geometry_.total_bytes() - offset));
    if (!read_all(fd_, chunk.data(), length, static_cast<off_t>(offset))) return false;
    for (std::size_t i = 0; i < length; i += unit) {
      const bool erased = std::all_of(chunk.begin() + static_cast<std::ptrdiff_t>(i),
                                      chunk.begin() + static_cast<std::ptrdiff_t>(i + unit),
                                      [](std::uint8_t b) { return b == 0xFF; });
      mark_unit(static_cast<std::size_t>((offset + i) / unit), !erased);
    }
  }
  return true;
}

bool FileFlash::unit_programmed(std::size_t unit) const {
  return (programmed_[unit / 8] >> (unit % 8)) & 1u;
}

void FileFlash::mark_unit(std::size_t unit, bool programmed) {
  const auto bit = static_cast<std::uint8_t>(1u << (unit % 8));
  programmed_[unit / 8] = static_cast<std::uint8_t>(programmed ? programmed_[unit / 8] | bit
                                                               : programmed_[unit / 8] & ~bit);
}

FlashStatus FileFlash::read(std::uint32_t address, std::span<std::uint8_t> out) {
  if (lost_) return FlashStatus::power_lost;
  if (static_cast<std::uint64_t>(address) + out.size() > geometry_.total_bytes()) return FlashStatus::out_of_range;
  for (std::size_t done = 0; done < out.size();) {
    const auto at = static_cast<std::uint32_t>(address + done);
    const CachedBlock* block = cached_block(at - at % cache_block_bytes);
    if (block == nullptr) return FlashStatus::io_error;
    const std::uint32_t within = at - block->address;
    const std::size_t length = std::min<std::size_t>(out.size() - done, cache_block_bytes - within);
    std::copy_n(block->bytes.begin() + within, length, out.begin() + static_cast<std::ptrdiff_t>(done));
    done += length;
  }
  return FlashStatus::ok;
}

const FileFlash::CachedBlock* FileFlash::cached_block(std::uint32_t address) {
  ++cache_uses_;
  CachedBlock* least_recent = &cache_.front();
  for (CachedBlock& block : cache_) {
    if (block.address == address) {
      block.last_used = cache_uses_;
      return &block;
    }
    if (block.last_used < least_recent->last_used) least_recent = &block;
  }
  // The image's last block may be shorter: nothing reads past the image's end.
  const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(cache_block_bytes, geometry_.total_bytes() - address));
  least_recent->address = no_block;
  if (!read_all(fd_, least_recent->bytes.data(), length, address)) return nullptr;
  least_recent->address = address;
  least_recent->last_used = cache_uses_;
  return least_recent;
}

void FileFlash::update_cache(std::uint32_t address, std::span<const std::uint8_t> data) {
  const std::uint64_t end = std::uint64_t{address} + data.size();
  for (CachedBlock& block : cache_) {
    if (block.address == no_block) continue;
    const std::uint64_t from = std::max<std::uint64_t>(address, block.address);
    const std::uint64_t to = std::min<std::uint64_t>(end, std::uint64_t{block.address} + cache_block_bytes);
    if (from >= to) continue;
    std::copy(data.begin() + static_cast<std::ptrdiff_t>(from - address),
              data.begin() + static_cast<std::ptrdiff_t>(to - address),
              block.bytes.begin() + static_cast<std::ptrdiff_t>(from - block.address));
  }
}

void FileFlash::forget_cached(std::uint32_t address, std::uint32_t length) {
  for (CachedBlock& block : cache_) {
    if (block.address != no_block && block.address < std::uint64_t{address} + length &&
        address < std::uint64_t{block.address} + cache_block_bytes) {
      block.address = no_block;
    }
  }
}

FlashStatus FileFlash::program(std::uint32_t address, std::span<const std::uint8_t> data) {
  if (lost_) return FlashStatus::power_lost;
  const std::size_t unit = geometry_.program_unit_bytes;
  if (static_cast<std::uint64_t>(address) + data.size() > geometry_.total_bytes()) return FlashStatus::out_of_range;
  if (address % unit != 0 || data.size() % unit != 0) return FlashStatus::misaligned;
  const std::size_t first = address / unit;
  const std::size_t count = data.size() / unit;
  for (std::size_t i = first; i < first + count; ++i) {
    if (unit_programmed(i)) return FlashStatus::rule_violation;
  }
  if (faults_.cut_now()) {
    if (faults_.tear()) tear_program(address, data);
    return lose_power();
  }
  if (!write_all(fd_, data.data(), data.size(), address)) {
    forget_cached(address, static_cast<std::uint32_t>(data.size()));  // the image may hold part of it
    return FlashStatus::io_error;
  }
  update_cache(address, data);
  for (std::size_t i = first; i < first + count; ++i) mark_unit(i, true);
  faults_.count_operation();
  return FlashStatus::ok;
}

FlashStatus FileFlash::erase(std::uint32_t sector_index) {
  if (lost_) return FlashStatus::power_lost;
  if (sector_index >= geometry_.sector_count) return FlashStatus::out_of_range;
  if (faults_.cut_now()) {
    if (faults_.tear()) tear_erase(sector_index);
    return lose_power();
  }
  const std::uint64_t start = std::uint64_t{sector_index} * geometry_.sector_size_bytes;
  forget_cached(static_cast<std::uint32_t>(start), geometry_.sector_size_bytes);
  if (!fill_erased(start, geometry_.sector_size_bytes)) return FlashStatus::io_error;
  mark_sector(sector_index, 0, geometry_.sector_size_bytes / geometry_.program_unit_bytes, false);
  faults_.count_operation();
  return FlashStatus::ok;
}

bool FileFlash::fill_erased(std::uint64_t offset, std::uint64_t length) {
  std::array<std::uint8_t, chunk_bytes> erased;
  erased.fill(0xFF);
  for (std::uint64_t done = 0; done < length;) {
    const auto piece = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, length - done));
    if (!write_all(fd_, erased.data(), piece, static_cast<off_t>(offset + done))) return false;
    done += piece;
  }
  return true;
}

// Units [first_unit, end_unit) of the sector, counted from its start.
void FileFlash::mark_sector(std::uint32_t sector_index, std::uint32_t first_unit, std::uint32_t end_unit,
                            bool programmed) {
  const std::size_t base = std::size_t{sector_index} * (geometry_.sector_size_bytes / geometry_.program_unit_bytes);
  for (std::uint32_t u = first_unit; u < end_unit; ++u) mark_unit(base + u, programmed);
}

// The torn bytes reach the file (a failed write is as good as a torn one);
// the units they touch count as programmed until the next erase.
void FileFlash::tear_program(std::uint32_t address, std::span<const std::uint8_t> data) {
  const std::uint32_t unit = geometry_.program_unit_bytes;
  const TornProgram torn = faults_.torn_program(static_cast<std::uint32_t>(data.size()), unit);
  forget_cached(address, static_cast<std::uint32_t>(data.size()));
  (void)write_all(fd_, data.data(), torn.bytes_written, address);
  for (std::uint32_t u = 0; u < torn.units_touched; ++u) mark_unit(address / unit + u, true);
}

void FileFlash::tear_erase(std::uint32_t sector_index) {
  const std::uint32_t unit = geometry_.program_unit_bytes;
  const TornErase torn = faults_.torn_erase(geometry_.sector_size_bytes);
  const std::uint64_t start = std::uint64_t{sector_index} * geometry_.sector_size_bytes;
  forget_cached(static_cast<std::uint32_t>(start), geometry_.sector_size_bytes);
  (void)fill_erased(start + torn.from, torn.to - torn.from);
  mark_sector(sector_index, torn.first_whole_unit(unit), torn.end_whole_unit(unit), false);
}

// Nothing more reaches the image: no sync, no later program or erase.
FlashStatus FileFlash::lose_power() {
  lost_ = true;
  if (on_power_lost_ != nullptr) on_power_lost_();
  return FlashStatus::power_lost;
}

void FileFlash::cut_power_after(std::uint64_t operations, bool tear, std::uint32_t seed,
                                PowerLossHandler on_power_lost) {
  faults_.cut_after(operations, tear, seed);
  on_power_lost_ = on_power_lost;
}

FlashStatus FileFlash::sync() {
  if (lost_) return FlashStatus::power_lost;
  return ::fdatasync(fd_) == 0 ? FlashStatus::ok : FlashStatus::io_error;
}

}  // namespace pigeon::hal
