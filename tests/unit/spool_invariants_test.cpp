// The spool's checked call order and its report of what mount could not
// index: appending to the log without preparing room, or a scratch payload
// after the scratch was handed out again, stops the relay (PIGEON_ASSERT) instead
// of answering "full"; a committed message beyond the index is reported to
// the log, and tools/spool-inspect reports it from the image alone.
#include <gtest/gtest.h>

#include <array>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <string>

#include "firmware/spool_log.hpp"
#include "tests/spool/spool_fixture.hpp"

namespace pigeon::testing {
namespace {

using spool_format::RecordType;

constexpr hal::FlashGeometry small{4096, 8, 16};

class OpenLog {
 public:
  OpenLog() {
    EXPECT_EQ(log_.open(), SpoolStatus::ok);
    EXPECT_EQ(log_.format(spool_format::unversioned_uid_validity), SpoolStatus::ok);
  }
  SpoolLog& log() { return log_; }

 private:
  SimulatedChip chip_{small};
  SpoolLog log_{chip_.flash()};
};

TEST(SpoolLogOrder, PreparedRecordsAreAppendedAndReadBackWithTheirCrc) {
  OpenLog open;
  SpoolLog& log = open.log();
  const std::array<std::uint8_t, 5> payload{1, 2, 3, 4, 5};
  ASSERT_EQ(log.prepare(log.record_bytes(static_cast<std::uint32_t>(payload.size())), 0), SpoolStatus::ok);
  std::uint32_t address = 0;
  ASSERT_EQ(log.append(RecordType::data, 7, payload, &address), SpoolStatus::ok);
  const auto header = log.read_header(address);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->message_id, 7u);
  const auto read = log.read_payload(address, *header);
  ASSERT_TRUE(read);
  EXPECT_TRUE(std::equal(read->bytes.begin(), read->bytes.end(), payload.begin(), payload.end()));
  EXPECT_FALSE(log.read_payload(address, header->payload_bytes, header->payload_crc ^ 1));
}

TEST(SpoolLogOrderDeath, AppendingWithoutPreparedRoomStopsInsteadOfAnsweringFull) {
  OpenLog open;
  SpoolLog& log = open.log();
  const std::array<std::uint8_t, 1000> piece{};
  // Four records of 1 KB do not fit in one 4 KiB sector; nobody asked prepare() for the next.
  EXPECT_DEATH(
      {
        for (int i = 0; i < 4; ++i) (void)log.append(RecordType::data, 1, piece);
      },
      "assertion failed: prepared");
}

TEST(SpoolLogOrderDeath, AScratchPayloadIsStaleOnceTheScratchIsHandedOutAgain) {
  OpenLog open;
  SpoolLog& log = open.log();
  ASSERT_EQ(log.prepare(log.record_bytes(8), 0), SpoolStatus::ok);
  const SpoolLog::ScratchPayload built = log.draft(8);
  (void)log.draft(4);  // e.g. making room read a record to copy it
  EXPECT_DEATH((void)log.append(RecordType::data, 1, built), "assertion failed: scratch_still_held");
}

TEST(SpoolLogOrderDeath, ASectorCannotLoseMoreBeginsThanItHas) {
  OpenLog open;
  SpoolLog& log = open.log();
  const std::uint32_t first_record = small.sector_size_bytes * log.head_sector() + 100;
  log.add_begin(first_record);
  log.remove_begin(first_record);
  EXPECT_DEATH(log.remove_begin(first_record), "assertion failed: counted");
}

class CapturingLog final : public hal::Log {
 public:
  void vwrite(hal::LogLevel level, const char* format, std::va_list args) override {
    char line[256];
    std::vsnprintf(line, sizeof line, format, args);
    lines.push_back({level, line});
  }
  std::vector<std::pair<hal::LogLevel, std::string>> lines;
};

std::string repository_root() { return PIGEON_SOURCE_DIR; }

// Runs tools/spool-inspect on the chip's bytes; returns its exit status and stderr.
std::pair<int, std::string> inspect(const std::vector<std::uint8_t>& image, const std::string& options) {
  // One file per test: ctest runs the tests of this file in parallel.
  const std::string path = ::testing::TempDir() + "spool_invariants_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".img";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
  const std::string command =
      "/usr/bin/python3 " + repository_root() + "tools/spool-inspect " + options + " " + path + " 2>&1 >/dev/null";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = ::pclose(pipe);
  std::remove(path.c_str());
  return {status, output};
}

// A full index, one message deleted by its mailbox and another stored in its place; then
// the delivered one's outcome record is lost to a bit flip. At the next mount
// one message more is live than the index holds: the newest is not indexed.
TEST(SpoolMountReport, ACommittedMessageBeyondTheIndexIsReportedNotDropped) {
  // Small sectors (the inspector walks one per message), 1,024 of them: 16 MiB
  // for the host's 32,768 small messages.
  const hal::FlashGeometry geometry{16384, 1024, 16};
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  // Local mail: the index, not the table of details, is what fills.
  const std::array recipients{alice};
  std::vector<MessageId> ids;
  for (int i = 0; i < PIGEON_SPOOL_MAX_MESSAGES; ++i) {
    const Outcome stored = store_message(*spool, {"a@b", recipients, false}, "x");
    ASSERT_EQ(stored.status, SpoolStatus::ok);
    ids.push_back(stored.id);
  }
  ASSERT_EQ(spool->mark_deleted(ids[0], "alice"), SpoolStatus::ok);
  const Outcome newest = store_message(*spool, {"a@b", recipients, false}, "x");
  ASSERT_EQ(newest.status, SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  EXPECT_EQ(spool->mount_report().messages_not_indexed, 0u);

  // The outcome record of ids[0]: type 4, reserved 0, a 3-byte payload (one mask byte), its id.
  const std::array<std::uint8_t, 8> outcome_head{4, 0, 3, 0, static_cast<std::uint8_t>(ids[0]),
                                                 static_cast<std::uint8_t>(ids[0] >> 8),
                                                 static_cast<std::uint8_t>(ids[0] >> 16),
                                                 static_cast<std::uint8_t>(ids[0] >> 24)};
  const auto at = std::search(chip.bytes().begin(), chip.bytes().end(), outcome_head.begin(), outcome_head.end());
  ASSERT_NE(at, chip.bytes().end());
  chip.flash().flip_bit(static_cast<std::uint32_t>(at - chip.bytes().begin()) + 16 + 2, 0);  // its mask

  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  EXPECT_EQ(spool->mount_report().messages_not_indexed, 1u);
  EXPECT_EQ(spool->mount_report().first_not_indexed, newest.id);
  EXPECT_EQ(spool->usage().messages, static_cast<std::uint32_t>(PIGEON_SPOOL_MAX_MESSAGES));
  CapturingLog log;
  spool->log_mount_report(log);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.lines[0].first, hal::LogLevel::error);
  EXPECT_NE(log.lines[0].second.find("1 committed messages do not fit in the index"), std::string::npos)
      << log.lines[0].second;

  const auto [status, output] = inspect(chip.bytes(), "--index-entries " + std::to_string(PIGEON_SPOOL_MAX_MESSAGES));
  EXPECT_NE(status, 0);
  char expected[96];
  std::snprintf(expected, sizeof expected, "message %u: not indexed", static_cast<unsigned>(newest.id));
  EXPECT_NE(output.find(expected), std::string::npos) << output;
}

TEST(SpoolMountReport, NothingIsLoggedWhenEveryMessageIsIndexed) {
  SimulatedChip chip(small);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  const std::array recipients{alice};
  ASSERT_EQ(store_message(*spool, {"a@b", recipients, false}, "hello").status, SpoolStatus::ok);
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  CapturingLog log;
  spool->log_mount_report(log);
  EXPECT_TRUE(log.lines.empty());
  EXPECT_EQ(inspect(chip.bytes(), "--index-entries 1").first, 0);
}

}  // namespace
}  // namespace pigeon::testing
