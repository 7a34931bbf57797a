#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "firmware/alert.hpp"
#include "firmware/pigeon.h"

namespace pigeon {
namespace {

struct RecordingStore final : AlertStore {
  AlertStatus store(protocol::AlertFields& fields) override {
    if (refuse != AlertStatus::sent) return refuse;
    stored.push_back(std::string(fields.subject) + " x" + std::to_string(fields.occurrences) + " since " +
                     std::to_string(fields.first_unix_time_s));
    return AlertStatus::sent;
  }
  std::vector<std::string> stored;
  AlertStatus refuse = AlertStatus::sent;
};

constexpr std::string_view admin = "admin@example.org";

TEST(Alerts, FirstAlertOfAKeyGoesOutAtOnce) {
  RecordingStore store;
  Alerts alerts({60, 10}, store);
  EXPECT_EQ(alerts.send(admin, "Door open", "body", "door", 1000), AlertStatus::sent);
  EXPECT_EQ(store.stored, (std::vector<std::string>{"Door open x1 since 1000"}));
}

TEST(Alerts, SameKeyInTheWindowIsCoalescedIntoOneSummary) {
  RecordingStore store;
  Alerts alerts({60, 10}, store);
  alerts.send(admin, "Door open", "b", "door", 1000);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(alerts.send(admin, "Door open", "b", "door", 1010 + i), AlertStatus::coalesced);
  alerts.poll(1059);
  EXPECT_EQ(store.stored.size(), 1u);
  alerts.poll(1060);
  EXPECT_EQ(store.stored, (std::vector<std::string>{"Door open x1 since 1000", "Door open x5 since 1010"}));
  alerts.poll(2000);  // nothing more happened: no more messages
  EXPECT_EQ(store.stored.size(), 2u);
}

TEST(Alerts, DifferentKeysAreIndependent) {
  RecordingStore store;
  Alerts alerts({60, 10}, store);
  EXPECT_EQ(alerts.send(admin, "A", "b", "a", 1000), AlertStatus::sent);
  EXPECT_EQ(alerts.send(admin, "B", "b", "b", 1001), AlertStatus::sent);
  EXPECT_EQ(store.stored.size(), 2u);
}

TEST(Alerts, RateLimitBoundsMessagesOfAllKeysAndCountsTheRest) {
  RecordingStore store;
  Alerts alerts({60, 3}, store);
  for (int key = 0; key < 5; ++key) {
    const auto status = alerts.send(admin, "S" + std::to_string(key), "b", std::to_string(key), 1000);
    EXPECT_EQ(status, key < 3 ? AlertStatus::sent : AlertStatus::rate_limited) << key;
  }
  EXPECT_EQ(store.stored.size(), 3u);
  alerts.poll(1060);  // the next window: the limited ones are reported
  EXPECT_EQ(store.stored.size(), 5u);
  EXPECT_EQ(store.stored[3], "S3 x1 since 1000");
}

// Issue: eight junk keys filled the key table and real alerts failed (as
// too_long) for the whole window.
TEST(Alerts, JunkKeysDoNotKeepARealAlertOut) {
  RecordingStore store;
  Alerts alerts({300, 100}, store);
  for (int key = 0; key < PIGEON_ALERT_KEYS; ++key) {
    ASSERT_EQ(alerts.send(admin, "junk", "b", "junk" + std::to_string(key), 1000 + key), AlertStatus::sent);
  }
  EXPECT_EQ(alerts.send(admin, "Disk full", "b", "disk", 1010), AlertStatus::sent);
  EXPECT_EQ(store.stored.back(), "Disk full x1 since 1010");
  // The real key keeps coalescing; the junk key that gave its slot up starts a new window.
  EXPECT_EQ(alerts.send(admin, "Disk full", "b", "disk", 1011), AlertStatus::coalesced);
}

TEST(Alerts, AKeyGivingItsSlotUpReportsWhatItCountedFirst) {
  RecordingStore store;
  Alerts alerts({300, 100}, store);
  for (int key = 0; key < PIGEON_ALERT_KEYS; ++key) {
    alerts.send(admin, "K" + std::to_string(key), "b", std::to_string(key), 1000 + key);
    ASSERT_EQ(alerts.send(admin, "K" + std::to_string(key), "b", std::to_string(key), 1100), AlertStatus::coalesced);
  }
  EXPECT_EQ(alerts.send(admin, "Disk full", "b", "disk", 1200), AlertStatus::sent);
  const std::size_t n = store.stored.size();
  ASSERT_GE(n, 2u);
  EXPECT_EQ(store.stored[n - 2], "K0 x1 since 1100");  // the oldest window's count, not lost
  EXPECT_EQ(store.stored[n - 1], "Disk full x1 since 1200");
}

TEST(Alerts, AFullKeyTableUnderTheRateLimitIsBusy) {
  RecordingStore store;
  Alerts alerts({300, PIGEON_ALERT_KEYS}, store);
  for (int key = 0; key < PIGEON_ALERT_KEYS; ++key) {
    alerts.send(admin, "K", "b", std::to_string(key), 1000);
    alerts.send(admin, "K", "b", std::to_string(key), 1001);  // counted, to be reported
  }
  EXPECT_EQ(alerts.send(admin, "Disk full", "b", "disk", 1002), AlertStatus::busy);
  EXPECT_EQ(alerts.send(admin, "Disk full", "b", std::string(65, 'k'), 1002), AlertStatus::too_long);
  alerts.poll(1300);  // the windows end: their summaries go out
  alerts.poll(1600);  // and the next ones end quietly: the keys are free
  EXPECT_EQ(alerts.send(admin, "Disk full", "b", "disk", 1601), AlertStatus::sent);
}

TEST(Alerts, RefusesBadInputWithoutCountingIt) {
  RecordingStore store;
  Alerts alerts({60, 10}, store);
  EXPECT_EQ(alerts.send(admin, "a\r\nBcc: x@y", "b", "k", 1000), AlertStatus::header_injection);
  EXPECT_EQ(alerts.send("admin@example.org\n", "s", "b", "k", 1000), AlertStatus::header_injection);
  EXPECT_EQ(alerts.send("nobody", "s", "b", "k", 1000), AlertStatus::bad_address);
  EXPECT_EQ(alerts.send(admin, "\xFF", "b", "k", 1000), AlertStatus::bad_text);
  EXPECT_EQ(alerts.send(admin, std::string(PIGEON_ALERT_MAX_SUBJECT_BYTES + 1, 's'), "b", "k", 1000),
            AlertStatus::too_long);
  EXPECT_TRUE(store.stored.empty());
  EXPECT_EQ(alerts.send(admin, "ok", "b", "k", 1000), AlertStatus::sent);
  EXPECT_EQ(store.stored, (std::vector<std::string>{"ok x1 since 1000"}));
}

TEST(Alerts, SpoolFullIsAnErrorAndTheAlertIsNotCounted) {
  RecordingStore store;
  Alerts alerts({60, 10}, store);
  store.refuse = AlertStatus::spool_full;
  EXPECT_EQ(alerts.send(admin, "s", "b", "k", 1000), AlertStatus::spool_full);
  store.refuse = AlertStatus::sent;
  alerts.poll(1100);
  EXPECT_TRUE(store.stored.empty());
}

TEST(Alerts, CApiNeedsABoundServiceAndPassesStatusesThrough) {
  bind_c_alert_api(nullptr, nullptr);
  EXPECT_EQ(pigeon_alert_send("admin@example.org", "s", "b", "k"), PIGEON_ALERT_NOT_READY);
  RecordingStore store;
  Alerts alerts({60, 10}, store);
  bind_c_alert_api(&alerts, [] { return std::int64_t{1000}; });
  EXPECT_EQ(pigeon_alert_send("admin@example.org", "s", "b", "k"), PIGEON_ALERT_SENT);
  EXPECT_EQ(pigeon_alert_send("admin@example.org", "s", "b", "k"), PIGEON_ALERT_COALESCED);
  EXPECT_EQ(pigeon_alert_send("admin@example.org", "s\n", "b", "k"), PIGEON_ALERT_HEADER_INJECTION);
  bind_c_alert_api(nullptr, nullptr);
}

}  // namespace
}  // namespace pigeon
