// The spool's two-part index (firmware/spool_index.hpp): every message has a
// small entry; only those that owe the smarthost, or whose outcomes differ
// within one mailbox, hold a DeliveryDetail from a fixed table. A full table
// refuses new relayed mail for now and takes local mail; nothing accepted is
// lost, across remounts.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <span>
#include <vector>

#include "tests/spool/spool_fixture.hpp"

namespace pigeon::testing {
namespace {

constexpr hal::FlashGeometry roomy{65536, 64, 16};  // 4 MiB: the table fills long before the flash
constexpr std::size_t details = PIGEON_SPOOL_ACTIVE_MESSAGES;

class SpoolDetails : public ::testing::Test {
 protected:
  SimulatedChip chip{roomy};
  std::unique_ptr<Spool> spool = make_spool(chip.flash());

  void SetUp() override { ASSERT_EQ(spool->mount(), SpoolStatus::ok); }
  void remount() {
    ASSERT_EQ(spool->sync(), SpoolStatus::ok);
    spool = make_spool(chip.flash());
    ASSERT_EQ(spool->mount(), SpoolStatus::ok);
    ASSERT_EQ(spool->mount_report().messages_not_indexed, 0u);
  }
  std::vector<MessageId> outbound() {
    std::vector<MessageId> ids;
    for (auto message = spool->next_outbound(0); message; message = spool->next_outbound(message->id)) {
      ids.push_back(message->id);
    }
    return ids;
  }
  std::size_t listed(std::string_view mailbox) {
    std::vector<MaildropEntry> entries(details + 16);
    return spool->list_mailbox(mailbox, entries);
  }
};

TEST_F(SpoolDetails, AFullTableRefusesRelayedMailForNowAndTakesLocalMail) {
  const std::array to_remote{remote};
  const std::array to_alice{alice};
  const std::array to_alice_and_remote{alice, remote};
  std::vector<MessageId> relayed;
  // All but the detail kept for delivery reports.
  for (std::size_t i = 0; i + 1 < details; ++i) {
    using Recipients = std::span<const SpoolRecipient>;
    const Recipients recipients = i % 2 ? Recipients(to_remote) : Recipients(to_alice_and_remote);
    const Outcome stored = store_message(*spool, {"a@b", recipients, false}, "x");
    ASSERT_EQ(stored.status, SpoolStatus::ok) << i;
    relayed.push_back(stored.id);
  }
  SpoolWriter refused;
  EXPECT_EQ(spool->open_message({"a@b", to_remote, false}, refused), SpoolStatus::too_many);
  EXPECT_EQ(spool->open_message({"a@b", to_alice_and_remote, false}, refused), SpoolStatus::too_many);
  // SMTP's way: the recipient relayed onward is refused at its RCPT (452 4.3.1), the local one taken.
  SpoolWriter streamed;
  ASSERT_EQ(spool->open_streamed({"a@b", {}, false}, streamed), SpoolStatus::ok);
  ASSERT_EQ(spool->add_recipient(streamed, alice), SpoolStatus::ok);
  EXPECT_EQ(spool->add_recipient(streamed, remote), SpoolStatus::too_many);
  const std::string body = "local mail still arrives\r\n";
  ASSERT_EQ(spool->append(streamed, {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}),
            SpoolStatus::ok);
  ASSERT_EQ(spool->commit(streamed), SpoolStatus::ok);
  ASSERT_EQ(store_message(*spool, {"a@b", to_alice, false}, "x").status, SpoolStatus::ok);
  // A delivery report (the null reverse-path) takes the last detail; then nothing may.
  const Outcome report = store_message(*spool, {"", to_remote, false}, "report");
  ASSERT_EQ(report.status, SpoolStatus::ok);
  relayed.push_back(report.id);
  EXPECT_EQ(spool->open_message({"", to_remote, false}, refused), SpoolStatus::too_many);

  remount();
  EXPECT_EQ(outbound(), relayed);
  EXPECT_EQ(listed("alice"), details / 2 + 2);
  EXPECT_EQ(spool->open_message({"a@b", to_remote, false}, refused), SpoolStatus::too_many);

  // The smarthost takes one: its detail is free again, kept for reports, and
  // its local copy stays listed. A second one makes room for new mail.
  ASSERT_EQ(spool->mark_recipient(relayed[0], 1, RecipientOutcome::relayed), SpoolStatus::ok);
  EXPECT_EQ(spool->open_message({"a@b", to_remote, false}, refused), SpoolStatus::too_many);
  ASSERT_EQ(spool->mark_recipient(relayed[1], 0, RecipientOutcome::relayed), SpoolStatus::ok);
  const Outcome next = store_message(*spool, {"a@b", to_remote, false}, "x");
  ASSERT_EQ(next.status, SpoolStatus::ok);
  relayed.erase(relayed.begin(), relayed.begin() + 2);
  relayed.push_back(next.id);
  remount();
  EXPECT_EQ(outbound(), relayed);
  EXPECT_EQ(listed("alice"), details / 2 + 2);
  EXPECT_EQ(spool->open_message({"a@b", to_remote, false}, refused), SpoolStatus::too_many);
}

// Two recipients in one mailbox, one of them settled alone: only a detail can
// say which is owed, and the message stays listed until both are.
TEST_F(SpoolDetails, AnOutcomeForPartOfAMailboxKeepsTheRestOwed) {
  const SpoolRecipient alice_too{"alice@other.example", "alice"};
  const std::array recipients{alice, alice_too, bob};
  const Outcome stored = store_message(*spool, {"a@b", recipients, false}, "x");
  ASSERT_EQ(stored.status, SpoolStatus::ok);
  ASSERT_EQ(spool->mark_recipient(stored.id, 0, RecipientOutcome::deleted), SpoolStatus::ok);
  remount();
  EXPECT_EQ(listed("alice"), 1u);
  ASSERT_EQ(spool->mark_recipient(stored.id, 1, RecipientOutcome::deleted), SpoolStatus::ok);
  EXPECT_EQ(listed("alice"), 0u);
  EXPECT_EQ(listed("bob"), 1u);
  remount();
  EXPECT_EQ(listed("alice"), 0u);
  ASSERT_EQ(spool->mark_deleted(stored.id, "bob"), SpoolStatus::ok);
  EXPECT_EQ(spool->usage().messages, 0u);
}

// A full index (the host's 32,768) of small local messages on 16 MiB of RAM
// flash: every one is listed after a remount, and one more is too_many.
TEST(SpoolLargeIndex, EveryMessageOfAFullIndexMountsAndLists) {
  SimulatedChip chip(hal::FlashGeometry{16384, 1024, 16});
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  const std::array to_alice{alice};
  const std::array to_bob{bob};
  for (std::size_t i = 0; i < MessageIndex::capacity; ++i) {
    ASSERT_EQ(store_message(*spool, {"a@b", i % 4 == 0 ? to_bob : to_alice, false}, "x").status, SpoolStatus::ok)
        << i;
  }
  SpoolWriter refused;
  EXPECT_EQ(spool->open_message({"a@b", to_alice, false}, refused), SpoolStatus::too_many);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);

  spool = make_spool(chip.flash());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  const auto mounted = std::chrono::steady_clock::now();
  EXPECT_EQ(spool->mount_report().messages_not_indexed, 0u);
  EXPECT_EQ(spool->usage().messages, MessageIndex::capacity);
  std::vector<MaildropEntry> entries(MessageIndex::capacity);
  EXPECT_EQ(spool->list_mailbox("alice", entries), MessageIndex::capacity / 4 * 3);
  EXPECT_EQ(spool->list_mailbox("bob", entries), MessageIndex::capacity / 4);
  const auto listed = std::chrono::steady_clock::now();
  using std::chrono::duration_cast, std::chrono::milliseconds;
  std::printf("[large index] %zu messages: mount %lld ms, both listings (verifying each message) %lld ms\n",
              MessageIndex::capacity, static_cast<long long>(duration_cast<milliseconds>(mounted - start).count()),
              static_cast<long long>(duration_cast<milliseconds>(listed - mounted).count()));
  ASSERT_EQ(spool->mark_deleted(entries[0].id, "bob"), SpoolStatus::ok);
  EXPECT_EQ(store_message(*spool, {"a@b", to_alice, false}, "x").status, SpoolStatus::ok);
}

// What RAM holds per message and per detail (docs/architecture.md §5).
TEST(SpoolIndexSizes, EntryAndDetail) {
  std::printf("[sizes] IndexEntry %zu bytes, DeliveryDetail %zu bytes (and its id), %zu entries, %zu details\n",
              sizeof(IndexEntry), sizeof(DeliveryDetail), MessageIndex::capacity, DetailTable::capacity);
  EXPECT_LE(sizeof(IndexEntry), 32u);
}

}  // namespace
}  // namespace pigeon::testing
