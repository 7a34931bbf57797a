#include "hal/posix/zero_pages.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace pigeon::hal {
namespace {

// Eight pages of private anonymous memory, like the .bss, unmapped at the end.
class AnonymousPages : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_ = static_cast<std::byte*>(
        ::mmap(nullptr, page_bytes_ * page_count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(memory_, MAP_FAILED);
  }
  void TearDown() override { ::munmap(memory_, page_bytes_ * page_count); }

  std::byte* page(std::size_t number) { return memory_ + number * page_bytes_; }
  std::vector<bool> resident() {
    std::vector<unsigned char> states(page_count);
    EXPECT_EQ(::mincore(memory_, page_bytes_ * page_count, states.data()), 0);
    std::vector<bool> pages;
    for (unsigned char state : states) pages.push_back((state & 1) != 0);
    return pages;
  }

  static constexpr std::size_t page_count = 8;
  const std::size_t page_bytes_ = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::byte* memory_ = nullptr;
};

TEST_F(AnonymousPages, ZeroedPagesLeaveAndDataStays) {
  std::memset(memory_, 0, page_bytes_ * page_count);  // every page written, as a constructor does
  page(2)[17] = std::byte{0x5a};
  page(5)[page_bytes_ - 1] = std::byte{1};  // the last byte of a page counts too
  EXPECT_EQ(release_zero_pages({memory_, page_bytes_ * page_count}), 6 * page_bytes_);
  EXPECT_EQ(resident(), (std::vector<bool>{false, false, true, false, false, true, false, false}));
  EXPECT_EQ(page(2)[17], std::byte{0x5a});
  EXPECT_EQ(page(5)[page_bytes_ - 1], std::byte{1});
  EXPECT_EQ(page(3)[0], std::byte{0});  // a page given back reads as zeros, and takes writes
  page(3)[0] = std::byte{7};
  EXPECT_EQ(page(3)[0], std::byte{7});
}

TEST_F(AnonymousPages, OnlyWholePagesInsideTheSpan) {
  std::memset(memory_, 0, page_bytes_ * page_count);
  // From the middle of page 1 to the middle of page 4: pages 2 and 3 are whole.
  const std::span<std::byte> part(page(1) + page_bytes_ / 2, 3 * page_bytes_);
  EXPECT_EQ(release_zero_pages(part), 2 * page_bytes_);
  EXPECT_EQ(resident(), (std::vector<bool>{true, true, false, false, true, true, true, true}));
}

}  // namespace
}  // namespace pigeon::hal
