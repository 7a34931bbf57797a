// The host's file-backed flash: what it reads is what the image holds after
// every program and erase, although reads are served from cached blocks.
#include "hal/posix/file_flash.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace pigeon::hal {
namespace {

// 5 sectors of 3 KiB: the image (15 KiB) ends inside a cache block, and
// sectors and cache blocks do not line up.
constexpr FlashGeometry geometry{3072, 5, 16};

class FileFlashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "file_flash_test.img";
    std::remove(path_.c_str());
    ASSERT_TRUE(flash_->open(path_.c_str(), geometry));
  }
  void TearDown() override { std::remove(path_.c_str()); }

  std::vector<std::uint8_t> read(std::uint32_t address, std::size_t length) {
    std::vector<std::uint8_t> bytes(length);
    EXPECT_EQ(flash_->read(address, bytes), FlashStatus::ok);
    return bytes;
  }
  static std::vector<std::uint8_t> filled(std::size_t length, std::uint8_t value) {
    return std::vector<std::uint8_t>(length, value);
  }
  // Changes the image file behind the flash's back.
  void write_file(std::uint32_t address, const std::vector<std::uint8_t>& bytes) {
    const int fd = ::open(path_.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), address), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }

  std::string path_;
  std::unique_ptr<FileFlash> flash_ = std::make_unique<FileFlash>();
};

TEST_F(FileFlashTest, ReadsSeeEveryProgramAndErase) {
  EXPECT_EQ(read(100, 64), filled(64, 0xFF));  // the block is cached now
  ASSERT_EQ(flash_->program(96, filled(32, 0x5A)), FlashStatus::ok);
  std::vector<std::uint8_t> expected = filled(64, 0xFF);
  std::fill(expected.begin(), expected.begin() + 28, 0x5A);
  EXPECT_EQ(read(100, 64), expected);
  ASSERT_EQ(flash_->erase(0), FlashStatus::ok);
  EXPECT_EQ(read(100, 64), filled(64, 0xFF));
}

// A program that spans two cached blocks changes both.
TEST_F(FileFlashTest, ProgramAcrossABlockBoundary) {
  EXPECT_EQ(read(4000, 200), filled(200, 0xFF));
  ASSERT_EQ(flash_->program(4080, filled(32, 0x11)), FlashStatus::ok);
  EXPECT_EQ(read(4080, 32), filled(32, 0x11));
  EXPECT_EQ(read(4096, 16), filled(16, 0x11));
}

TEST_F(FileFlashTest, ReadsUpToTheImageEndAndNotPast) {
  const std::uint32_t end = geometry.total_bytes();
  ASSERT_EQ(flash_->program(end - 16, filled(16, 0x42)), FlashStatus::ok);
  EXPECT_EQ(read(end - 16, 16), filled(16, 0x42));
  std::array<std::uint8_t, 17> past{};
  EXPECT_EQ(flash_->read(end - 16, past), FlashStatus::out_of_range);
}

// More blocks than the cache holds, read over and over: each read still
// returns the image's bytes.
TEST_F(FileFlashTest, EvictedBlocksAreReadAgain) {
  for (std::uint32_t sector = 0; sector < geometry.sector_count; ++sector) {
    ASSERT_EQ(flash_->program(sector * geometry.sector_size_bytes, filled(16, static_cast<std::uint8_t>(sector))),
              FlashStatus::ok);
  }
  for (int round = 0; round < 3; ++round) {
    for (std::uint32_t address = 0; address + 16 <= geometry.total_bytes(); address += 512) {
      const bool sector_start = address % geometry.sector_size_bytes == 0;
      const auto expected = sector_start ? filled(16, static_cast<std::uint8_t>(address / geometry.sector_size_bytes))
                                         : filled(16, 0xFF);
      EXPECT_EQ(read(address, 16), expected) << address;
    }
  }
}

// What makes the spool's small reads cheap: a block read once is not read from
// the file again, so a change made behind the flash's back goes unseen until
// the block is programmed, erased or evicted.
TEST_F(FileFlashTest, ABlockReadOnceComesFromTheCache) {
  EXPECT_EQ(read(0, 16), filled(16, 0xFF));
  write_file(0, filled(16, 0x00));
  EXPECT_EQ(read(0, 16), filled(16, 0xFF));
  ASSERT_EQ(flash_->erase(0), FlashStatus::ok);
  write_file(0, filled(16, 0x00));
  EXPECT_EQ(read(0, 16), filled(16, 0x00));
}

}  // namespace
}  // namespace pigeon::hal
