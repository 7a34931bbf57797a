#include "firmware/delivery_queue.hpp"

#include <gtest/gtest.h>

namespace pigeon {
namespace {

TEST(RetryPolicy, DoublesFromTheFirstWaitUpToTheCap) {
  const RetryPolicy policy;  // 1 minute, capped at 1 hour
  EXPECT_EQ(policy.backoff_s(1), 60u);
  EXPECT_EQ(policy.backoff_s(2), 120u);
  EXPECT_EQ(policy.backoff_s(6), 1920u);
  EXPECT_EQ(policy.backoff_s(7), 3600u);
  EXPECT_EQ(policy.backoff_s(1000000), 3600u);
}

TEST(DeliveryQueue, HandsOutDueMessagesOldestFirstAndOnlyOnce) {
  const RetryPolicy policy;
  DeliveryQueue queue(policy);
  ASSERT_TRUE(queue.add(7, 100, 100));
  ASSERT_TRUE(queue.add(3, 90, 90));
  EXPECT_EQ(queue.take_due(100), 3u);
  EXPECT_EQ(queue.take_due(100), 7u);
  EXPECT_EQ(queue.take_due(100), std::nullopt);  // both in flight
  queue.finished(3);
  queue.put_back(7);
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue.take_due(100), 7u);
}

TEST(DeliveryQueue, MakeAllDueBringsWaitingMessagesForwardButNotThoseInFlight) {
  const RetryPolicy policy;
  DeliveryQueue queue(policy);
  ASSERT_TRUE(queue.add(1, 0, 0));
  ASSERT_TRUE(queue.add(2, 0, 0));
  ASSERT_TRUE(queue.add(3, 0, 500));
  ASSERT_EQ(queue.take_due(0), 1u);
  ASSERT_EQ(queue.take_due(0), 2u);
  ASSERT_EQ(queue.deferred(2, 10), DeliveryQueue::Deferral::retry_scheduled);
  EXPECT_EQ(queue.make_all_due(20), 2u);  // 2 and 3; 1 is in flight
  EXPECT_EQ(queue.find(2)->next_attempt_s, 20);
  EXPECT_EQ(queue.find(2)->failed_attempts, 1u);
  EXPECT_EQ(queue.find(3)->next_attempt_s, 20);
  EXPECT_TRUE(queue.find(1)->in_flight);
  EXPECT_EQ(queue.make_all_due(20), 0u);
}

TEST(DeliveryQueue, DeferralWaitsLongerEachTime) {
  const RetryPolicy policy{10, 35, 1000};
  DeliveryQueue queue(policy);
  queue.add(1, 0, 0);
  std::int64_t now = 0;
  for (std::int64_t expected_wait : {10, 20, 35, 35}) {
    ASSERT_EQ(queue.take_due(now), 1u);
    EXPECT_EQ(queue.deferred(1, now), DeliveryQueue::Deferral::retry_scheduled);
    EXPECT_EQ(queue.next_attempt_s(), now + expected_wait);
    EXPECT_EQ(queue.take_due(now + expected_wait - 1), std::nullopt);
    now += expected_wait;
  }
  EXPECT_EQ(queue.find(1)->failed_attempts, 4u);
}

TEST(DeliveryQueue, MessagePastTheMaximumAgeExpires) {
  const RetryPolicy policy{10, 10, 30};
  DeliveryQueue queue(policy);
  queue.add(1, 0, 0);
  EXPECT_EQ(queue.deferred(1, 29), DeliveryQueue::Deferral::retry_scheduled);
  EXPECT_EQ(queue.deferred(1, 30), DeliveryQueue::Deferral::expired);
  EXPECT_EQ(queue.find(1), nullptr);
  EXPECT_EQ(queue.next_attempt_s(), std::nullopt);
}

TEST(DeliveryQueue, RefillAfterRestartIsDueAtOnceAndAddingTwiceIsHarmless) {
  const RetryPolicy policy;
  DeliveryQueue queue(policy);
  EXPECT_TRUE(queue.add(5, 0, 5000));
  EXPECT_TRUE(queue.add(5, 0, 5000));
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue.take_due(5000), 5u);
}

TEST(DeliveryQueue, ReportsFullWithoutLosingEntries) {
  const RetryPolicy policy;
  DeliveryQueue queue(policy);
  for (std::uint32_t id = 1; id <= PIGEON_DELIVERY_QUEUE_LENGTH; ++id) ASSERT_TRUE(queue.add(id, 0, 0));
  EXPECT_FALSE(queue.add(100000, 0, 0));
  EXPECT_EQ(queue.size(), static_cast<std::size_t>(PIGEON_DELIVERY_QUEUE_LENGTH));
}

}  // namespace
}  // namespace pigeon
