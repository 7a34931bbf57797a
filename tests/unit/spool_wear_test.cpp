// Long runs of the spool: wear levelling and write amplification over at least
// 100 times the flash capacity, a full spool, and the cost of recovery.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>

#include "hal/posix/file_flash.hpp"

#include "tests/spool/spool_model.hpp"

namespace pigeon::testing {
namespace {

struct WearFigures {
  std::uint64_t message_bytes = 0;
  std::uint64_t programmed_bytes = 0;
  std::uint64_t min_erases = ~0ull;
  std::uint64_t max_erases = 0;
  Spool::ReclaimCounters reclaims;  // of the run, before the final remount
};

WearFigures wear_of(const hal::RamFlash& flash, std::uint64_t message_bytes) {
  WearFigures figures;
  figures.message_bytes = message_bytes;
  for (std::uint32_t s = 0; s < flash.geometry().sector_count; ++s) {
    figures.programmed_bytes += flash.counts(s).bytes_programmed;
    figures.min_erases = std::min(figures.min_erases, flash.counts(s).erases);
    figures.max_erases = std::max(figures.max_erases, flash.counts(s).erases);
  }
  return figures;
}

void print(const char* what, const hal::FlashGeometry& geometry, const WearFigures& figures) {
  std::printf("[wear] %s on %u x %u KiB, unit %u: %.1fx capacity written, erases per sector min %llu max %llu "
              "(ratio %.3f), write amplification %.3f\n",
              what, geometry.sector_count, geometry.sector_size_bytes / 1024, geometry.program_unit_bytes,
              static_cast<double>(figures.message_bytes) / geometry.total_bytes(),
              static_cast<unsigned long long>(figures.min_erases), static_cast<unsigned long long>(figures.max_erases),
              static_cast<double>(figures.max_erases) / static_cast<double>(std::max<std::uint64_t>(1, figures.min_erases)),
              static_cast<double>(figures.programmed_bytes) / static_cast<double>(figures.message_bytes));
}

// A realistic mix: alerts (small, relayed), relayed mail, local mail that POP3
// fetches in batches, and a few local messages that stay unread for a long
// time (reclaim must copy them forward). Writes `capacity_factor` times the
// flash; checks the promise at the end.
WearFigures run_mix(const hal::FlashGeometry& geometry, int capacity_factor, bool only_2kb_relays) {
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  EXPECT_EQ(spool->mount(), SpoolStatus::ok);
  SpoolModel model;
  std::uint64_t accepted = 0;
  const std::uint64_t target = std::uint64_t{geometry.total_bytes()} * capacity_factor;
  std::vector<MessageId> unread_for_long;
  int refused_in_a_row = 0;
  for (std::uint32_t step = 0; accepted < target; ++step) {
    const std::uint32_t kind = only_2kb_relays ? 1 : step % 10;
    const auto& recipients = kind == 0 ? to_remote : kind < 5 ? to_remote : to_alice;
    const std::size_t size = only_2kb_relays ? 2048 : kind == 0 ? 400 : 1200 + 173 * (step % 11);
    const SpoolStatus status = model.store(*spool, recipients, make_body(step, size));
    if (status == SpoolStatus::ok) {
      accepted += size;
      if (!only_2kb_relays && step % 97 == 5) unread_for_long.push_back(model.messages().rbegin()->first);
      refused_in_a_row = 0;
    } else {
      EXPECT_EQ(status, SpoolStatus::full) << "step " << step;
      if (++refused_in_a_row > 100) {
        ADD_FAILURE() << "the spool stays full at step " << step;
        break;
      }
    }
    // Deliveries lag a little behind arrivals; long-unread mail is read after
    // about two laps of the ring.
    const std::vector<MessageId> live = model.live();
    std::size_t left = live.size();
    for (MessageId id : live) {
      if (left <= 8) break;
      const bool kept = std::find(unread_for_long.begin(), unread_for_long.end(), id) != unread_for_long.end();
      if (kept && id + 2 * geometry.total_bytes() / 1500 > model.messages().rbegin()->first) continue;
      EXPECT_EQ(model.finish(*spool, id, {0}), SpoolStatus::ok);
      --left;
    }
  }
  const Spool::ReclaimCounters reclaims = spool->reclaim_counters();
  spool = make_spool(chip.flash());
  EXPECT_EQ(spool->mount(), SpoolStatus::ok);
  EXPECT_TRUE(model.check(*spool).empty());
  WearFigures figures = wear_of(chip.flash(), accepted);
  figures.reclaims = reclaims;
  return figures;
}

TEST(SpoolWear, MixedTrafficOverHundredTimesCapacity) {
  for (const hal::FlashGeometry geometry : {hal::FlashGeometry{4096, 32, 16}, hal::FlashGeometry{16384, 8, 256}}) {
    const WearFigures figures = run_mix(geometry, 100, false);
    print("mixed alerts, relays, POP3", geometry, figures);
    EXPECT_GE(figures.message_bytes, 100ull * geometry.total_bytes());
    EXPECT_GT(figures.min_erases, 0u);
    EXPECT_LE(static_cast<double>(figures.max_erases), 1.1 * static_cast<double>(figures.min_erases) + 1);
    // The long-unread messages were copied forward, and counted.
    EXPECT_GT(figures.reclaims.sectors, 0u);
    EXPECT_GT(figures.reclaims.messages_copied, 0u);
  }
}

TEST(SpoolWear, WriteAmplificationOf2KbMessages) {
  for (const hal::FlashGeometry geometry : {hal::FlashGeometry{4096, 32, 16}, hal::FlashGeometry{65536, 8, 16},
                                            hal::FlashGeometry{4096, 32, 256}}) {
    const WearFigures figures = run_mix(geometry, 20, true);
    print("2 KB relayed messages", geometry, figures);
    EXPECT_LT(static_cast<double>(figures.programmed_bytes) / static_cast<double>(figures.message_bytes), 2.0);
  }
}

// Full: open_message or append answer full, nothing stored changes, and mail
// is accepted again once messages are done.
TEST(SpoolFull, RefusesNewMailKeepsOldAndRecovers) {
  const hal::FlashGeometry geometry{4096, 16, 16};
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  SpoolModel model;
  SpoolStatus status = SpoolStatus::ok;
  int stored = 0;
  for (; stored < 100 && status == SpoolStatus::ok; ++stored) {
    status = model.store(*spool, to_alice_and_remote, make_body(stored, 2500));
  }
  EXPECT_EQ(status, SpoolStatus::full);
  EXPECT_GT(stored, 10);
  // A message that does not fit in the room left is refused part-way too.
  EXPECT_EQ(model.store(*spool, to_alice, make_body(1000, 20000)), SpoolStatus::full);
  EXPECT_TRUE(model.check(*spool).empty());
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  EXPECT_TRUE(model.check(*spool).empty());
  EXPECT_EQ(model.store(*spool, to_alice, make_body(1001, 2500)), SpoolStatus::full);
  for (MessageId id : model.live()) {
    if (id % 2 == 1) {
      ASSERT_EQ(model.finish(*spool, id, {0, 1}), SpoolStatus::ok);
    }
  }
  EXPECT_EQ(model.store(*spool, to_alice, make_body(1002, 2500)), SpoolStatus::ok);
  EXPECT_TRUE(model.check(*spool).empty());
}

TEST(SpoolFull, IndexFullIsTooMany) {
  const hal::FlashGeometry geometry{65536, 256, 16};  // 16 MiB: room for the host's 32,768 small messages
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  const std::array recipients{alice};
  SpoolStatus status = SpoolStatus::ok;
  for (int i = 0; i <= PIGEON_SPOOL_MAX_MESSAGES && status == SpoolStatus::ok; ++i) {
    status = store_message(*spool, {"a@b", recipients, false}, "x").status;
  }
  EXPECT_EQ(status, SpoolStatus::too_many);
  EXPECT_EQ(spool->usage().messages, static_cast<std::uint32_t>(PIGEON_SPOOL_MAX_MESSAGES));
}

// Microseconds that mounting `flash` takes.
long long mount_microseconds(hal::Flash& flash, std::uint32_t expected_messages) {
  auto spool = make_spool(flash);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(spool->mount(), SpoolStatus::ok);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(spool->usage().messages, expected_messages);
  return std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
}

// Counts reads by address: mount must read each sector header once and each
// record header at most once.
class ReadCounter final : public hal::FlashReadObserver {
 public:
  void flash_read(std::uint32_t address, std::size_t bytes) override {
    if (bytes == 16) ++record_header_reads[address];
    ++reads_at[address];
  }
  std::map<std::uint32_t, int> record_header_reads;
  std::map<std::uint32_t, int> reads_at;
};

TEST(SpoolRecovery, FullMebibyteSpoolReadsEachHeaderOnce) {
  for (const hal::FlashGeometry geometry : {hal::FlashGeometry{4096, 256, 16}, hal::FlashGeometry{65536, 16, 16}}) {
    SimulatedChip chip(geometry);
    auto spool = make_spool(chip.flash());
    ASSERT_EQ(spool->mount(), SpoolStatus::ok);
    SpoolModel model;
    int stored = 0;
    while (model.store(*spool, stored % 2 ? to_alice : to_alice_and_remote, make_body(stored, 2048)) == SpoolStatus::ok) {
      ++stored;
    }
    ReadCounter counter;
    chip.flash().set_read_observer(&counter);
    chip.flash().reset_counts();
    const long long ram_us = mount_microseconds(chip.flash(), static_cast<std::uint32_t>(stored));
    chip.flash().set_read_observer(nullptr);
    for (std::uint32_t s = 0; s < geometry.sector_count; ++s) {
      EXPECT_EQ(counter.reads_at[s * geometry.sector_size_bytes], 1) << "sector " << s;
    }
    int most = 0;
    for (const auto& [address, reads] : counter.record_header_reads) most = std::max(most, reads);
    EXPECT_EQ(most, 1);
    std::uint64_t reads = 0;
    for (std::uint32_t s = 0; s < geometry.sector_count; ++s) reads += chip.flash().counts(s).reads;
    // The same image as the host's file-backed flash (page cache warm).
    const std::string path = ::testing::TempDir() + "spool_recovery.img";
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(chip.bytes().data()), static_cast<std::streamsize>(chip.bytes().size()));
    hal::FileFlash file;
    ASSERT_TRUE(file.open(path.c_str(), geometry));
    const long long file_us = mount_microseconds(file, static_cast<std::uint32_t>(stored));
    std::remove(path.c_str());
    std::printf("[recovery] full 1 MiB spool, %u x %u KiB: %d messages of 2 KB, %zu record headers, %llu reads; "
                "mount %lld us on RAM flash, %lld us on the host file flash\n",
                geometry.sector_count, geometry.sector_size_bytes / 1024, stored, counter.record_header_reads.size(),
                static_cast<unsigned long long>(reads), ram_us, file_us);
    spool = make_spool(chip.flash());
    ASSERT_EQ(spool->mount(), SpoolStatus::ok);
    EXPECT_TRUE(model.check(*spool).empty());
  }
}

}  // namespace
}  // namespace pigeon::testing
