// An open message never blocks the spool (docs/spool-format.md §7): when the
// ring needs the sector where a message still being written begins, that
// message is aborted (its writer learns `aborted`, SMTP answers 451 4.3.0),
// and one open message takes at most its share of the spool.
#include <gtest/gtest.h>

#include <array>

#include "tests/spool/spool_fixture.hpp"

namespace pigeon::testing {
namespace {

constexpr hal::FlashGeometry eight_sectors{4096, 8, 16};

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

class SpoolOpenMessage : public ::testing::Test {
 protected:
  SimulatedChip chip{eight_sectors};
  std::unique_ptr<Spool> spool = make_spool(chip.flash());

  void SetUp() override { ASSERT_EQ(spool->mount(), SpoolStatus::ok); }

  // A message that is relayed at once: it leaves dead space behind, the way
  // a busy relay makes the ring go round.
  SpoolStatus pass_through(std::uint32_t seed) {
    const std::array recipients{remote};
    const Outcome stored = store_message(*spool, {"a@lan.example", recipients, false}, make_body(seed, 1500));
    if (stored.status != SpoolStatus::ok) return stored.status;
    return spool->mark_recipient(stored.id, 0, RecipientOutcome::relayed);
  }
};

TEST_F(SpoolOpenMessage, DrippingWriterIsAbortedWhenTheRingNeedsItsSector) {
  const std::array recipients{alice};
  SpoolWriter slow;
  ASSERT_EQ(spool->open_message({"slow@lan.example", recipients, false}, slow), SpoolStatus::ok);
  ASSERT_EQ(spool->append(slow, bytes_of("Subject: one byte a minute\r\n")), SpoolStatus::ok);
  // Several laps of the ring: every message is accepted although the slow
  // one never ends (it used to pin sector 0 and make everyone get 452).
  for (std::uint32_t i = 0; i < 60; ++i) ASSERT_EQ(pass_through(i), SpoolStatus::ok) << "message " << i;
  EXPECT_EQ(spool->append(slow, bytes_of("x")), SpoolStatus::aborted);
  EXPECT_EQ(spool->commit(slow), SpoolStatus::aborted);
  EXPECT_TRUE(spool->next_outbound(0) == std::nullopt);
  std::vector<MaildropEntry> entries(8);
  EXPECT_EQ(spool->list_mailbox("alice", entries), 0u);
}

TEST_F(SpoolOpenMessage, AbortedWriterKeepsItsSlotUntilDiscarded) {
  const std::array recipients{alice};
  std::array<SpoolWriter, PIGEON_SPOOL_WRITERS> writers{};
  for (SpoolWriter& writer : writers) {
    ASSERT_EQ(spool->open_message({"slow@lan.example", recipients, false}, writer), SpoolStatus::ok);
  }
  SpoolWriter one_more;
  EXPECT_EQ(spool->open_message({"x@y", recipients, false}, one_more), SpoolStatus::too_many);
  // Writers that are never written to are aborted as new mail needs their sector.
  spool->discard(writers[0]);
  for (std::uint32_t i = 0; i < 60; ++i) {
    SpoolWriter writer;
    ASSERT_EQ(spool->open_message({"a@lan.example", std::array{remote}, false}, writer), SpoolStatus::ok) << i;
    const std::string body = make_body(i, 1500);
    ASSERT_EQ(spool->append(writer, bytes_of(body)), SpoolStatus::ok);
    ASSERT_EQ(spool->commit(writer), SpoolStatus::ok);
    ASSERT_EQ(spool->mark_recipient(writer.message_id(), 0, RecipientOutcome::relayed), SpoolStatus::ok);
  }
  // The aborted slots stay taken until their owners learn of it and let go.
  EXPECT_EQ(spool->append(writers[1], bytes_of("x")), SpoolStatus::aborted);
  SpoolWriter writer;
  ASSERT_EQ(spool->open_message({"x@y", recipients, false}, writer), SpoolStatus::ok);
  EXPECT_EQ(spool->open_message({"x@y", recipients, false}, one_more), SpoolStatus::too_many);
  spool->discard(writers[1]);
  EXPECT_EQ(spool->open_message({"x@y", recipients, false}, one_more), SpoolStatus::ok);
}

TEST_F(SpoolOpenMessage, AcknowledgedMailInTheSameSectorIsCopiedNotLost) {
  const std::array to_alice_only{alice};
  const std::string kept_body = make_body(7, 900);
  const Outcome kept = store_message(*spool, {"a@lan.example", to_alice_only, false}, kept_body);
  ASSERT_EQ(kept.status, SpoolStatus::ok);
  SpoolWriter slow;
  ASSERT_EQ(spool->open_message({"slow@lan.example", to_alice_only, false}, slow), SpoolStatus::ok);
  for (std::uint32_t i = 0; i < 60; ++i) ASSERT_EQ(pass_through(100 + i), SpoolStatus::ok) << "message " << i;
  EXPECT_EQ(spool->append(slow, bytes_of("x")), SpoolStatus::aborted);
  spool->discard(slow);
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  std::vector<MaildropEntry> entries(8);
  entries.resize(spool->list_mailbox("alice", entries));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].id, kept.id);
  EXPECT_EQ(read_message(*spool, kept.id), kept_body);
}

// A message that grows until the ring needs the sector where it began aborts
// itself: nothing of it is committed, and the spool takes mail again.
TEST_F(SpoolOpenMessage, MessageThatOutgrowsTheRingAbortsItself) {
  const std::array recipients{alice};
  SpoolWriter big;
  ASSERT_EQ(spool->open_message({"big@lan.example", recipients, false}, big), SpoolStatus::ok);
  SpoolStatus status = SpoolStatus::ok;
  std::uint32_t appended = 0;
  for (std::uint32_t i = 0; i < 40 && status == SpoolStatus::ok; ++i, appended += 1000) {
    status = spool->append(big, bytes_of(make_body(i, 1000)));
  }
  EXPECT_EQ(status, SpoolStatus::aborted);
  EXPECT_LT(appended, eight_sectors.total_bytes());
  EXPECT_EQ(spool->commit(big), SpoolStatus::aborted);
  spool->discard(big);
  EXPECT_EQ(pass_through(1), SpoolStatus::ok);
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  std::vector<MaildropEntry> entries(8);
  EXPECT_EQ(spool->list_mailbox("alice", entries), 0u);
}

TEST_F(SpoolOpenMessage, OneMessageTakesAtMostItsShareOfTheSpool) {
  spool->set_writer_share_percent(25);
  const std::uint32_t limit = spool->writer_limit_bytes();
  // A quarter of what new mail may use: all sectors but the reserve.
  const std::uint32_t usable_sector = eight_sectors.sector_size_bytes - (48 + 2 * 16);  // header, intents
  EXPECT_EQ(limit, (8 - PIGEON_SPOOL_RESERVE_SECTORS) * usable_sector / 100 * 25);
  const std::array recipients{alice};
  SpoolWriter writer;
  ASSERT_EQ(spool->open_message({"a@lan.example", recipients, false}, writer), SpoolStatus::ok);
  const std::string body = make_body(3, limit);
  ASSERT_EQ(spool->append(writer, bytes_of(std::string_view(body).substr(0, limit - 10))), SpoolStatus::ok);
  EXPECT_EQ(spool->append(writer, bytes_of("eleven byte")), SpoolStatus::too_big);
  ASSERT_EQ(spool->append(writer, bytes_of(std::string_view(body).substr(limit - 10))), SpoolStatus::ok);
  ASSERT_EQ(spool->commit(writer), SpoolStatus::ok);
  EXPECT_EQ(read_message(*spool, writer.message_id()), body);
}

}  // namespace
}  // namespace pigeon::testing
