// The queue listing of `mailq` (firmware/queue_listing.hpp): its lines, and the
// same text whether it is written into one large buffer or a line at a time.
#include "firmware/queue_listing.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "tests/spool/spool_fixture.hpp"

namespace pigeon::testing {
namespace {

class QueueListing : public ::testing::Test {
 protected:
  SimulatedChip chip{hal::FlashGeometry{4096, 16, 16}};
  std::unique_ptr<Spool> spool = make_spool(chip.flash());
  RetryPolicy policy;
  DeliveryQueue queue{policy};

  void SetUp() override { ASSERT_EQ(spool->mount(), SpoolStatus::ok); }

  MessageId store(std::span<const SpoolRecipient> recipients, std::uint32_t arrived_s) {
    const Outcome stored = store_message(*spool, {"cron@router.lan", recipients, false, arrived_s}, "Subject: x\r\n\r\nx\r\n");
    EXPECT_EQ(stored.status, SpoolStatus::ok);
    return stored.id;
  }

  std::string listing(std::size_t buffer_bytes, const QueueTimes& now) {
    std::string text;
    std::string buffer(buffer_bytes, '\0');
    QueueCursor cursor;
    for (int call = 0; call < 100; ++call) {
      const std::size_t written = list_queue(*spool, queue, now, cursor, buffer);
      if (written == 0) break;
      text.append(buffer, 0, written);
    }
    EXPECT_TRUE(cursor.finished);
    return text;
  }
};

TEST_F(QueueListing, AnEmptyQueueSaysSo) {
  const std::array recipients{alice};
  store(recipients, 1000);  // local only: nothing owed to the smarthost
  EXPECT_EQ(listing(4096, {0, 1100}), "Mail queue is empty\n");
}

TEST_F(QueueListing, ListsOwedRecipientsWithTheirState) {
  const std::array first{alice, remote, remote2};
  const MessageId waiting = store(first, 1000);
  const std::array second{remote};
  const MessageId sending = store(second, 0);
  const std::array third{remote2};
  const MessageId unqueued = store(third, 1000);
  ASSERT_TRUE(queue.add(waiting, 10, 10));
  ASSERT_EQ(queue.deferred(waiting, 20), DeliveryQueue::Deferral::retry_scheduled);  // retry at 80
  ASSERT_TRUE(queue.add(sending, 30, 30));
  ASSERT_EQ(queue.take_due(30), sending);
  const std::string expected =
      std::to_string(waiting) + " 17 bytes, queued 100 s ago, from <cron@router.lan>\n"
      "  <carol@far.example> waiting, 1 failed attempts, next retry in 30 s\n"
      "  <dave@far.example> waiting, 1 failed attempts, next retry in 30 s\n" +
      std::to_string(sending) + " 17 bytes, from <cron@router.lan>\n"
      "  <carol@far.example> being sent now\n" +
      std::to_string(unqueued) + " 17 bytes, queued 100 s ago, from <cron@router.lan>\n"
      "  <dave@far.example> waiting for room in the delivery queue\n"
      "-- 3 messages in the queue\n";
  EXPECT_EQ(listing(4096, {50, 1100}), expected);
  // A line at a time gives the same text.
  EXPECT_EQ(listing(queue_line_bytes, {50, 1100}), expected);
  EXPECT_EQ(queue.make_all_due(60), 1u);  // the one in flight stays in flight
  EXPECT_NE(listing(4096, {60, 1100}).find("1 failed attempts, due now\n"), std::string::npos);
}

TEST_F(QueueListing, AMessageThatLeavesBetweenCallsIsSkipped) {
  const std::array recipients{remote};
  const MessageId gone = store(recipients, 0);
  const MessageId kept = store(recipients, 0);
  std::string buffer(queue_line_bytes, '\0');
  QueueCursor cursor;
  ASSERT_GT(list_queue(*spool, queue, {0, 0}, cursor, std::span(buffer).first(60)), 0u);  // the first line only
  ASSERT_EQ(spool->mark_recipient(gone, 0, RecipientOutcome::relayed), SpoolStatus::ok);
  const std::size_t written = list_queue(*spool, queue, {0, 0}, cursor, buffer);
  EXPECT_EQ(buffer.substr(0, written), std::to_string(kept) + " 17 bytes, from <cron@router.lan>\n"
                                       "  <carol@far.example> waiting for room in the delivery queue\n"
                                       "-- 2 messages in the queue\n");
}

}  // namespace
}  // namespace pigeon::testing
