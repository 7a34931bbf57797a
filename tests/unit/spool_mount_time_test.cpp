// A bounded measurement of the spool's recovery and listing cost: a full
// 1 MiB spool mounted 30 times on RAM flash (no I/O noise), with the reads
// one mount makes, and a POP3 listing of the fullest mailbox. The figures go to
// docs/testing.md; the checks keep the measurement honest (every mount finds
// every message, every listing lists them all).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "tests/spool/spool_model.hpp"

namespace pigeon::testing {
namespace {

constexpr int mounts = 30;

struct Timings {
  long long min_us = 0;
  long long median_us = 0;
};

template <class Work>
Timings time_of(int runs, Work work) {
  std::vector<long long> us;
  for (int run = 0; run < runs; ++run) {
    const auto start = std::chrono::steady_clock::now();
    work();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  }
  std::sort(us.begin(), us.end());
  return {us.front(), us[us.size() / 2]};
}

std::uint64_t reads_of(const hal::RamFlash& flash) {
  std::uint64_t reads = 0;
  for (std::uint32_t s = 0; s < flash.geometry().sector_count; ++s) reads += flash.counts(s).reads;
  return reads;
}

TEST(SpoolMountTime, FullMebibyteSpool) {
  for (const hal::FlashGeometry geometry : {hal::FlashGeometry{4096, 256, 16}, hal::FlashGeometry{65536, 16, 16}}) {
    SimulatedChip chip(geometry);
    auto spool = make_spool(chip.flash());
    ASSERT_EQ(spool->mount(), SpoolStatus::ok);
    SpoolModel model;
    std::uint32_t stored = 0;
    while (model.store(*spool, stored % 2 ? to_alice : to_alice_and_remote, make_body(stored, 2048)) ==
           SpoolStatus::ok) {
      ++stored;
    }
    ASSERT_GT(stored, 100u);

    chip.flash().reset_counts();
    // The same spool object each time: mount() starts from nothing, and the
    // allocation of a new object is no part of recovery.
    const Timings mount = time_of(mounts, [&] {
      ASSERT_EQ(spool->mount(), SpoolStatus::ok);
      ASSERT_EQ(spool->usage().messages, stored);
    });
    const std::uint64_t reads_per_mount = reads_of(chip.flash()) / mounts;

    std::vector<MaildropEntry> entries(stored);
    spool->list_mailbox("alice", entries);  // the first listing verifies every message's CRCs
    const Timings listing = time_of(mounts, [&] { ASSERT_EQ(spool->list_mailbox("alice", entries), stored); });

    std::printf("[mount] full 1 MiB spool, %u x %u KiB: %u messages of 2 KB, %llu reads per mount; "
                "mount min %lld us, median %lld us (%d runs); listing all %u: min %lld us, median %lld us\n",
                geometry.sector_count, geometry.sector_size_bytes / 1024, stored,
                static_cast<unsigned long long>(reads_per_mount), mount.min_us, mount.median_us, mounts, stored,
                listing.min_us, listing.median_us);
  }
}

}  // namespace
}  // namespace pigeon::testing
