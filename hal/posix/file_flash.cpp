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

FileFlash::~FileFlash() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileFlash::open(const char* path, const FlashGeometry& geometry) {
  if (geometry.program_unit_bytes == 0 || geometry.sector_size_bytes % geometry.program_unit_bytes != 0 ||
      geometry.sector_count == 0 || geometry.total_bytes() / geometry.program_unit_bytes > max_units) {
    return false;
  }
  geometry_ = geometry;
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
  if (static_cast<std::uint64_t>(address) + out.size() > geometry_.total_bytes()) return FlashStatus::out_of_range;
  return read_all(fd_, out.data(), out.size(), address) ? FlashStatus::ok : FlashStatus::io_error;
}

FlashStatus FileFlash::program(std::uint32_t address, std::span<const std::uint8_t> data) {
  const std::size_t unit = geometry_.program_unit_bytes;
  if (static_cast<std::uint64_t>(address) + data.size() > geometry_.total_bytes()) return FlashStatus::out_of_range;
  if (address % unit != 0 || data.size() % unit != 0) return FlashStatus::misaligned;
  const std::size_t first = address / unit;
  const std::size_t count = data.size() / unit;
  for (std::size_t i = first; i < first + count; ++i) {
    if (unit_programmed(i)) return FlashStatus::rule_violation;
  }
  if (!write_all(fd_, data.data(), data.size(), address)) return FlashStatus::io_error;
  for (std::size_t i = first; i < first + count; ++i) mark_unit(i, true);
  return FlashStatus::ok;
}

FlashStatus FileFlash::erase(std::uint32_t sector_index) {
  if (sector_index >= geometry_.sector_count) return FlashStatus::out_of_range;
  std::array<std::uint8_t, chunk_bytes> erased;
  erased.fill(0xFF);
  const std::uint64_t start = static_cast<std::uint64_t>(sector_index) * geometry_.sector_size_bytes;
  for (std::uint32_t done = 0; done < geometry_.sector_size_bytes;) {
    const std::uint32_t length = std::min<std::uint32_t>(chunk_bytes, geometry_.sector_size_bytes - done);
    if (!write_all(fd_, erased.data(), length, static_cast<off_t>(start + done))) return FlashStatus::io_error;
    done += length;
  }
  const std::size_t unit = geometry_.program_unit_bytes;
  for (std::uint64_t i = start / unit; i < (start + geometry_.sector_size_bytes) / unit; ++i) {
    mark_unit(static_cast<std::size_t>(i), false);
  }
  return FlashStatus::ok;
}

FlashStatus FileFlash::sync() { return ::fdatasync(fd_) == 0 ? FlashStatus::ok : FlashStatus::io_error; }

}  // namespace pigeon::hal
