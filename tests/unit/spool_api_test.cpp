// The spool's interface on several flash geometries: storing, listing, reading,
// per-recipient outcomes, deletion, and the envelope read back from flash.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "tests/spool/spool_fixture.hpp"

namespace pigeon::testing {
namespace {

class SpoolApi : public MountedSpoolTest {
 protected:
  std::vector<MaildropEntry> list(std::string_view mailbox) {
    std::vector<MaildropEntry> entries(64);
    entries.resize(spool->list_mailbox(mailbox, entries));
    return entries;
  }
};

TEST_P(SpoolApi, StoredMessageSurvivesRemountByteForByte) {
  const std::array recipients{alice};
  const std::string body = make_body(1, 5000);
  const Outcome stored = store_message(*spool, {"sender@lan.example", recipients, false}, body);
  ASSERT_EQ(stored.status, SpoolStatus::ok);
  remount();
  const auto entries = list("alice");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].id, stored.id);
  EXPECT_EQ(entries[0].size_bytes, body.size());
  EXPECT_EQ(read_message(*spool, stored.id), body);
  EXPECT_TRUE(list("bob").empty());
}

TEST_P(SpoolApi, OutboundListsOwedRemoteRecipientsWithEnvelopeFromFlash) {
  const std::array recipients{alice, remote, remote2};
  const Outcome stored = store_message(*spool, {"sender@lan.example", recipients, true}, make_body(2, 100));
  ASSERT_EQ(stored.status, SpoolStatus::ok);
  remount();
  auto outbound = spool->next_outbound(0);
  ASSERT_TRUE(outbound);
  EXPECT_EQ(outbound->id, stored.id);
  EXPECT_TRUE(outbound->body_8bit);
  EXPECT_EQ(outbound->recipient_count, 3);
  EXPECT_EQ(outbound->owed_remote_mask, RecipientSet(0b110));
  std::array<char, 256> text{};
  EXPECT_EQ(spool->read_sender(stored.id, text), "sender@lan.example");
  EXPECT_EQ(spool->read_recipient(stored.id, 1, text), "carol@far.example");
  EXPECT_EQ(spool->read_recipient(stored.id, 2, text), "dave@far.example");
  EXPECT_FALSE(spool->read_recipient(stored.id, 3, text));
  EXPECT_FALSE(spool->next_outbound(stored.id));

  ASSERT_EQ(spool->mark_recipient(stored.id, 1, RecipientOutcome::relayed), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  remount();
  outbound = spool->next_outbound(0);
  ASSERT_TRUE(outbound);
  EXPECT_EQ(outbound->owed_remote_mask, RecipientSet(0b100));
  ASSERT_EQ(spool->mark_recipient(stored.id, 2, RecipientOutcome::bounced), SpoolStatus::ok);
  EXPECT_FALSE(spool->next_outbound(0));
  EXPECT_EQ(list("alice").size(), 1u);  // still owed to alice
}

// docs/spool-format.md §3.6: the SMTP session's envelope, a recipient record
// per accepted RCPT. 100 recipients of 100 octets (bob the last): none counts
// before the commit, all after it, each read back from its record.
TEST_P(SpoolApi, StreamedRecipientsCountOnlyWithTheCommitAndReadBackFromFlash) {
  std::vector<std::string> addresses;
  for (int r = 0; r < 99; ++r) addresses.push_back("r" + std::to_string(r) + "-" + std::string(84, 'x') + "@far.example");
  SpoolWriter writer;
  ASSERT_EQ(spool->open_streamed({"sender@lan.example", {}, true, 1234}, writer), SpoolStatus::ok);
  for (const std::string& address : addresses) ASSERT_EQ(spool->add_recipient(writer, {address, ""}), SpoolStatus::ok);
  ASSERT_EQ(spool->add_recipient(writer, bob), SpoolStatus::ok);
  EXPECT_EQ(spool->add_recipient(writer, alice), SpoolStatus::too_many) << "PIGEON_MAX_RECIPIENTS is 100";
  const std::string body = make_body(9, 3000);
  ASSERT_EQ(spool->append(writer, {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  {
    // What a restart before the commit would find: nothing.
    auto before = make_spool(chip.flash());
    ASSERT_EQ(before->mount(), SpoolStatus::ok);
    EXPECT_FALSE(before->next_outbound(0));
    EXPECT_EQ(before->usage().messages, 0u);
  }
  ASSERT_EQ(spool->commit(writer), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  remount();
  const auto outbound = spool->next_outbound(0);
  ASSERT_TRUE(outbound);
  EXPECT_EQ(outbound->recipient_count, 100);
  EXPECT_EQ(outbound->owed_remote_mask.count(), 99u);
  EXPECT_FALSE(outbound->owed_remote_mask[99]);
  EXPECT_TRUE(outbound->body_8bit);
  EXPECT_EQ(outbound->arrived_s, 1234u);
  std::array<char, 256> text{};
  EXPECT_EQ(spool->read_sender(outbound->id, text), "sender@lan.example");
  for (std::uint8_t r = 0; r < 99; ++r) EXPECT_EQ(spool->read_recipient(outbound->id, r, text), addresses[r]);
  EXPECT_EQ(spool->read_recipient(outbound->id, 99, text), "bob@home.example");
  EXPECT_EQ(list("bob").size(), 1u);
  EXPECT_TRUE(list("alice").empty());
  EXPECT_EQ(read_message(*spool, outbound->id), body);
}

// A transaction reset after its recipients went to flash leaves dead records
// only; the next message beside them reads back whole.
TEST_P(SpoolApi, DiscardedStreamedEnvelopeLeavesTheNextMessageWhole) {
  SpoolWriter reset;
  ASSERT_EQ(spool->open_streamed({"sender@lan.example", {}, false, 0}, reset), SpoolStatus::ok);
  ASSERT_EQ(spool->add_recipient(reset, alice), SpoolStatus::ok);
  ASSERT_EQ(spool->add_recipient(reset, bob), SpoolStatus::ok);
  spool->discard(reset);
  SpoolWriter writer;
  ASSERT_EQ(spool->open_streamed({"sender@lan.example", {}, false, 0}, writer), SpoolStatus::ok);
  ASSERT_EQ(spool->add_recipient(writer, alice), SpoolStatus::ok);
  const std::string body = make_body(10, 100);
  ASSERT_EQ(spool->append(writer, {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}), SpoolStatus::ok);
  ASSERT_EQ(spool->commit(writer), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  remount();
  ASSERT_EQ(list("alice").size(), 1u);
  EXPECT_EQ(read_message(*spool, list("alice")[0].id), body);
  EXPECT_TRUE(list("bob").empty());
}

TEST_P(SpoolApi, MessageDiesWhenEveryRecipientIsDone) {
  const std::array recipients{alice, remote};
  const Outcome stored = store_message(*spool, {"", recipients, false}, make_body(3, 10));
  ASSERT_EQ(stored.status, SpoolStatus::ok);
  ASSERT_EQ(spool->mark_deleted(stored.id, "alice"), SpoolStatus::ok);
  EXPECT_TRUE(list("alice").empty());
  EXPECT_EQ(spool->usage().messages, 1u);
  ASSERT_EQ(spool->mark_recipient(stored.id, 1, RecipientOutcome::relayed), SpoolStatus::ok);
  EXPECT_EQ(spool->usage().messages, 0u);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  remount();
  EXPECT_EQ(spool->usage().messages, 0u);
  EXPECT_TRUE(list("alice").empty());
  EXPECT_FALSE(spool->next_outbound(0));
}

TEST_P(SpoolApi, DeletionByOneMailboxLeavesTheOther) {
  const std::array recipients{alice, bob};
  const Outcome stored = store_message(*spool, {"x@y", recipients, false}, make_body(4, 3000));
  ASSERT_EQ(spool->mark_deleted(stored.id, "bob"), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  remount();
  EXPECT_TRUE(list("bob").empty());
  ASSERT_EQ(list("alice").size(), 1u);
  EXPECT_EQ(spool->mark_deleted(stored.id, "carol"), SpoolStatus::not_found);
}

TEST_P(SpoolApi, DiscardedAndUncommittedMessagesNeverAppear) {
  const std::array recipients{alice};
  SpoolWriter discarded, unfinished;
  ASSERT_EQ(spool->open_message({"a@b", recipients, false}, discarded), SpoolStatus::ok);
  ASSERT_EQ(spool->append(discarded, std::span<const std::uint8_t>{}), SpoolStatus::ok);
  spool->discard(discarded);
  ASSERT_EQ(spool->open_message({"a@b", recipients, false}, unfinished), SpoolStatus::ok);
  const std::string body = make_body(5, 2000);
  ASSERT_EQ(spool->append(unfinished, {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}),
            SpoolStatus::ok);
  EXPECT_TRUE(list("alice").empty());
  remount();
  EXPECT_TRUE(list("alice").empty());
  // Ids are never reused, so a POP3 client's UIDL stays unique.
  const Outcome next = store_message(*spool, {"a@b", recipients, false}, body);
  EXPECT_GT(next.id, unfinished.message_id());
}

TEST_P(SpoolApi, CorruptBodyIsNeverDelivered) {
  const std::array recipients{alice, remote};
  const std::string body = make_body(6, 1500);
  const Outcome stored = store_message(*spool, {"a@b", recipients, false}, body);
  // Flip one bit in the middle of the body's first data record.
  const auto at = chip.bytes().size() / GetParam().sector_count;  // sector 0 holds everything
  const std::string_view image(reinterpret_cast<const char*>(chip.bytes().data()), at);
  const std::size_t found = image.find(body.substr(100, 32));
  ASSERT_NE(found, std::string_view::npos);
  chip.flash().flip_bit(static_cast<std::uint32_t>(found), 3);
  remount();
  EXPECT_TRUE(list("alice").empty());
  EXPECT_FALSE(spool->next_outbound(0));
  (void)stored;
}

// A read error in the middle of a listed message is an error, not its end:
// POP3 and the relay must not send the part before it as the whole message.
TEST_P(SpoolApi, FlashReadErrorIsNotTheEndOfTheMessage) {
  const std::array recipients{alice};
  const std::string body = make_body(8, 3000);
  const Outcome stored = store_message(*spool, {"a@b", recipients, false}, body);
  ASSERT_EQ(stored.status, SpoolStatus::ok);
  ASSERT_EQ(list("alice").size(), 1u);  // verified while the flash still read well
  const std::string_view image(reinterpret_cast<const char*>(chip.bytes().data()), chip.bytes().size());
  const std::size_t found = image.find(body.substr(2000, 32));
  ASSERT_NE(found, std::string_view::npos);
  chip.flash().fail_reads_at(static_cast<std::uint32_t>(found));
  // Reads of up to 100 bytes: the one that covers byte 2000 fails, those before it do not.
  const std::string read = read_message(*spool, stored.id, 100);
  const std::size_t good = read.size() - std::string_view("<unreadable>").size();
  EXPECT_TRUE(read.ends_with("<unreadable>") && good > 1900 && good <= 2000 && read.substr(0, good) == body.substr(0, good))
      << good << " bytes before the error";
  std::array<std::uint8_t, 16> piece{};
  EXPECT_EQ(spool->read(stored.id, static_cast<std::uint32_t>(body.size()), piece), 0u);  // the end is still the end
  EXPECT_EQ(spool->read(stored.id + 1, 0, piece), std::nullopt);  // no such message
}

INSTANTIATE_TEST_SUITE_P(Geometries, SpoolApi,
                         ::testing::Values(hal::FlashGeometry{4096, 8, 1}, hal::FlashGeometry{4096, 16, 16},
                                           hal::FlashGeometry{16384, 8, 256}, hal::FlashGeometry{131072, 6, 8}),
                         geometry_name);

}  // namespace
}  // namespace pigeon::testing

namespace pigeon::testing {
namespace {

// A full spool whose messages are relayed newest first (the smarthost takes a
// long outage's queue back in retry order, not log order): the outcomes use up
// the reserve while the tail still holds waiting mail. The recipients are
// settled all the same (full, not an error), every message dies, and the
// spool takes new mail again. Before, the outcomes that found no room were
// lost, their messages stayed live, and the spool refused mail for good
// (tools/simulate, long-outage seed 1).
// Reclaim moves a streamed envelope of 100 recipients: its recipient
// records, and its outcomes so far as outcome records after the copy's
// commit (docs/spool-format.md §7). After a remount the copy is the message.
TEST(SpoolReclaim, MovesAStreamedEnvelopeOfAHundredRecipientsWithItsOutcomes) {
  SimulatedChip chip(hal::FlashGeometry{4096, 8, 16});
  std::unique_ptr<Spool> spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  std::vector<std::string> addresses;
  for (int r = 0; r < 99; ++r) addresses.push_back("r" + std::to_string(r) + "-" + std::string(24, 'x') + "@far.example");
  SpoolWriter writer;
  ASSERT_EQ(spool->open_streamed({"sender@lan.example", {}, false, 0}, writer), SpoolStatus::ok);
  for (const std::string& address : addresses) ASSERT_EQ(spool->add_recipient(writer, {address, ""}), SpoolStatus::ok);
  ASSERT_EQ(spool->add_recipient(writer, bob), SpoolStatus::ok);
  const std::string body = make_body(20, 1000);
  ASSERT_EQ(spool->append(writer, {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}), SpoolStatus::ok);
  ASSERT_EQ(spool->commit(writer), SpoolStatus::ok);
  const MessageId id = writer.message_id();
  for (std::uint8_t r = 0; r < 40; ++r) ASSERT_EQ(spool->mark_recipient(id, r, RecipientOutcome::relayed), SpoolStatus::ok);
  for (std::uint8_t r = 40; r < 50; ++r) ASSERT_EQ(spool->mark_recipient(id, r, RecipientOutcome::bounced), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  // Mail that comes and goes until the ring has gone round past the message.
  const std::array recipients{remote};
  for (std::uint32_t i = 0; spool->reclaim_counters().messages_copied == 0; ++i) {
    ASSERT_LT(i, 200u) << "reclaim never copied the message";
    const Outcome filler = store_message(*spool, {"sensor@lan.example", recipients, false}, make_body(30 + i, 1500));
    ASSERT_EQ(filler.status, SpoolStatus::ok);
    ASSERT_EQ(spool->mark_recipient(filler.id, 0, RecipientOutcome::relayed), SpoolStatus::ok);
  }
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  const auto outbound = spool->next_outbound(0);
  ASSERT_TRUE(outbound);
  EXPECT_EQ(outbound->id, id);
  EXPECT_EQ(outbound->recipient_count, 100);
  RecipientSet owed;
  for (std::uint8_t r = 50; r < 99; ++r) owed[r] = true;
  EXPECT_EQ(outbound->owed_remote_mask, owed) << "the outcomes moved with the message";
  std::array<char, 256> text{};
  for (std::uint8_t r = 0; r < 99; ++r) EXPECT_EQ(spool->read_recipient(id, r, text), addresses[r]);
  std::vector<MaildropEntry> entries(4);
  ASSERT_EQ(spool->list_mailbox("bob", entries), 1u);
  EXPECT_EQ(read_message(*spool, id), body);
}

TEST(SpoolFull, OutcomesOutOfLogOrderStillFreeTheSpool) {
  SimulatedChip chip(hal::FlashGeometry{4096, 16, 256});
  std::unique_ptr<Spool> spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  const std::array recipients{remote};
  const std::vector<MessageId> stored = fill_spool(*spool, recipients, 100);
  ASSERT_GT(stored.size(), 40u);
  std::size_t settled_without_record = 0;
  for (auto id = stored.rbegin(); id != stored.rend(); ++id) {
    const SpoolStatus status = spool->mark_recipient(*id, 0, RecipientOutcome::relayed);
    ASSERT_TRUE(status == SpoolStatus::ok || status == SpoolStatus::full);
    settled_without_record += status == SpoolStatus::full;
  }
  EXPECT_GT(settled_without_record, 0u);  // the case this test is about happened
  EXPECT_EQ(spool->usage().messages, 0u);
  EXPECT_FALSE(spool->next_outbound(0));
  EXPECT_EQ(store_message(*spool, {"sensor@lan.example", recipients, false}, make_body(99, 100)).status,
            SpoolStatus::ok);
}

// POP3's view of a mailbox (Spool::view_mailbox): as many messages as the
// spool holds, read from its index, and fixed for the session while new mail
// arrives and while a message that was being written commits.
class SpoolMailboxView : public ::testing::Test {
 protected:
  SimulatedChip chip{hal::FlashGeometry{65536, 16, 16}};
  std::unique_ptr<Spool> spool = make_spool(chip.flash());
  std::vector<MessageId> alices;

  void SetUp() override {
    ASSERT_EQ(spool->mount(), SpoolStatus::ok);
    const std::array to_alice{alice};
    const std::array to_bob{bob};
    for (int i = 0; i < 600; ++i) {
      const auto& recipients = i % 2 ? std::span<const SpoolRecipient>(to_bob) : std::span<const SpoolRecipient>(to_alice);
      const Outcome stored = store_message(*spool, {"s@lan.example", recipients, false}, make_body(i, 100));
      ASSERT_EQ(stored.status, SpoolStatus::ok);
      if (i % 2 == 0) alices.push_back(stored.id);
    }
  }
  std::vector<MessageId> ids_in(MailboxView& view) {
    std::vector<MessageId> ids;
    for (std::size_t index = 0; index < view.size(); ++index) ids.push_back(spool->view_entry(view, index)->id);
    return ids;
  }
};

TEST_F(SpoolMailboxView, HoldsEveryMessageAndStaysFixedWhileMailArrives) {
  const std::array to_alice{alice};
  SpoolWriter late;  // begun before the view, committed after it with a lower id than the newest
  ASSERT_EQ(spool->open_message({"s@lan.example", to_alice, false}, late), SpoolStatus::ok);
  const Outcome newest = store_message(*spool, {"s@lan.example", to_alice, false}, "newest");
  alices.push_back(newest.id);

  MailboxView view = spool->view_mailbox("alice", 4096);
  ASSERT_EQ(view.size(), 301u);  // more than the 128 a session's table held
  const std::array<std::uint8_t, 4> bytes{'l', 'a', 't', 'e'};
  ASSERT_EQ(spool->append(late, bytes), SpoolStatus::ok);
  ASSERT_EQ(spool->commit(late), SpoolStatus::ok);
  ASSERT_EQ(store_message(*spool, {"s@lan.example", to_alice, false}, "after").status, SpoolStatus::ok);

  EXPECT_EQ(view.size(), 301u);
  EXPECT_EQ(ids_in(view), alices);
  EXPECT_FALSE(spool->view_entry(view, 301));
  // Out of order too: each lookup finds its own message.
  for (const std::size_t index : {250u, 3u, 300u, 0u, 299u}) EXPECT_EQ(spool->view_entry(view, index)->id, alices[index]);
  EXPECT_EQ(spool->view_entry(view, 300)->size_bytes, 6u);
  EXPECT_EQ(spool->view_mailbox("alice", 4096).size(), 303u);  // a new session sees both
}

TEST_F(SpoolMailboxView, ShowsAtMostItsLimitTheOldestFirst) {
  MailboxView view = spool->view_mailbox("alice", 10);
  EXPECT_EQ(ids_in(view), std::vector<MessageId>(alices.begin(), alices.begin() + 10));
  EXPECT_EQ(spool->view_mailbox("nobody", 10).size(), 0u);
  EXPECT_EQ(spool->view_mailbox("", 10).size(), 0u);  // relayed recipients are no mailbox
}

TEST_F(SpoolMailboxView, DeletingNewestFirstKeepsTheOlderOnesInPlace) {
  MailboxView view = spool->view_mailbox("alice", 4096);
  for (std::size_t index = view.size(); index-- > 0;) {
    if (index % 3 != 0) continue;
    const std::optional<MaildropEntry> entry = spool->view_entry(view, index);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->id, alices[index]);
    ASSERT_EQ(spool->mark_deleted(entry->id, "alice"), SpoolStatus::ok);
  }
  std::vector<MessageId> kept;
  for (std::size_t index = 0; index < alices.size(); ++index) {
    if (index % 3 != 0) kept.push_back(alices[index]);
  }
  MailboxView after = spool->view_mailbox("alice", 4096);
  EXPECT_EQ(ids_in(after), kept);
}

// IMAP's view (Spool::watch): it takes in new mail when asked, and a message
// another session removes keeps its place until its owner takes it out.
class SpoolLiveView : public SpoolMailboxView {
 protected:
  LiveMailboxView mine, theirs;

  void TearDown() override {
    spool->unwatch(mine);
    spool->unwatch(theirs);
  }
  std::vector<MessageId> ids_in(LiveMailboxView& view) {
    std::vector<MessageId> ids;
    for (std::size_t index = 0; index < view.size(); ++index) ids.push_back(spool->view_entry(view, index)->id);
    return ids;
  }
  Outcome deliver_to_alice(std::string_view body) {
    const std::array to_alice{alice};
    return store_message(*spool, {"s@lan.example", to_alice, false}, body);
  }
};

TEST_F(SpoolLiveView, TakesInNewMailOnlyWhenAskedAndInUidOrder) {
  spool->watch(mine, "alice", 4096);
  ASSERT_EQ(mine.size(), 300u);
  const std::array to_alice{alice};
  SpoolWriter slow;  // opened first, so its id is below the next delivery's
  ASSERT_EQ(spool->open_message({"s@lan.example", to_alice, false}, slow), SpoolStatus::ok);
  const Outcome quick = deliver_to_alice("quick");
  EXPECT_EQ(mine.size(), 300u);
  // The quick one waits: shown first, it would make the slow one's UID a lower one than it.
  EXPECT_EQ(spool->extend_view(mine), 0u);
  const std::array<std::uint8_t, 4> bytes{'s', 'l', 'o', 'w'};
  ASSERT_EQ(spool->append(slow, bytes), SpoolStatus::ok);
  ASSERT_EQ(spool->commit(slow), SpoolStatus::ok);
  EXPECT_EQ(spool->extend_view(mine), 2u);
  alices.push_back(slow.message_id());
  alices.push_back(quick.id);
  EXPECT_EQ(ids_in(mine), alices);
  EXPECT_EQ(spool->view_entry(mine, 301)->size_bytes, 5u);
}

TEST_F(SpoolLiveView, AWriterBegunBeforeTheViewNeverHoldsNewMailBack) {
  const std::array to_alice{alice};
  SpoolWriter early;
  ASSERT_EQ(spool->open_message({"s@lan.example", to_alice, false}, early), SpoolStatus::ok);
  const Outcome before = deliver_to_alice("before");
  spool->watch(mine, "alice", 4096);
  ASSERT_EQ(mine.size(), 301u);
  const Outcome after = deliver_to_alice("after");
  EXPECT_EQ(spool->extend_view(mine), 1u);
  alices.push_back(before.id);
  alices.push_back(after.id);
  EXPECT_EQ(ids_in(mine), alices);
  spool->discard(early);
}

TEST_F(SpoolLiveView, GrowsUpToItsLimit) {
  spool->watch(mine, "alice", 302);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(deliver_to_alice("more").status, SpoolStatus::ok);
  EXPECT_EQ(spool->extend_view(mine), 2u);
  EXPECT_EQ(mine.size(), 302u);
}

TEST_F(SpoolLiveView, ARemovalElsewhereKeepsItsPlaceUntilTaken) {
  spool->watch(mine, "alice", 4096);
  spool->watch(theirs, "alice", 4096);
  LiveMailboxView bobs;
  spool->watch(bobs, "bob", 4096);
  // A POP3 session's deletions, then the other IMAP session's expunge.
  ASSERT_EQ(spool->mark_deleted(alices[10], "alice"), SpoolStatus::ok);
  ASSERT_EQ(spool->mark_deleted(alices[299], "alice"), SpoolStatus::ok);
  ASSERT_EQ(spool->remove_from_view(theirs, 5), SpoolStatus::ok);

  // The remover's view drops its own at once; the others' messages keep their places.
  EXPECT_EQ(theirs.size(), 299u);
  EXPECT_TRUE(spool->view_entry(theirs, 9)->vanished);
  EXPECT_EQ(spool->view_entry(theirs, 9)->id, alices[10]);
  EXPECT_EQ(mine.size(), 300u);
  EXPECT_EQ(ids_in(mine), alices);
  for (const std::size_t index : {5u, 10u, 299u}) EXPECT_TRUE(spool->view_entry(mine, index)->vanished) << index;
  EXPECT_FALSE(spool->view_entry(mine, 11)->vanished);
  EXPECT_EQ(spool->view_entry(mine, 299)->id, alices[299]);  // the newest, found from the end
  EXPECT_EQ(bobs.size(), 300u);

  // Taken oldest first, each numbered as the messages before it are then.
  EXPECT_EQ(spool->take_vanished(mine), 5u);
  EXPECT_EQ(spool->take_vanished(mine), 9u);
  EXPECT_EQ(spool->take_vanished(mine), 297u);
  EXPECT_FALSE(spool->take_vanished(mine));
  std::vector<MessageId> kept = alices;
  for (const std::size_t index : {299u, 10u, 5u}) kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(index));
  EXPECT_EQ(ids_in(mine), kept);
  EXPECT_EQ(spool->take_vanished(theirs), 9u);
  EXPECT_EQ(spool->take_vanished(theirs), 297u);
  EXPECT_EQ(ids_in(theirs), kept);
  EXPECT_FALSE(spool->take_vanished(bobs));
  EXPECT_FALSE(mine.lost_track());
  spool->unwatch(bobs);
}

TEST_F(SpoolLiveView, MailThatArrivesAfterARemovalGoesBehindItsPlace) {
  spool->watch(mine, "alice", 4096);
  ASSERT_EQ(spool->mark_deleted(alices[299], "alice"), SpoolStatus::ok);
  const Outcome newer = deliver_to_alice("newer");
  EXPECT_EQ(spool->extend_view(mine), 1u);
  EXPECT_TRUE(spool->view_entry(mine, 299)->vanished);
  EXPECT_EQ(spool->view_entry(mine, 300)->id, newer.id);
  EXPECT_EQ(spool->take_vanished(mine), 299u);
  EXPECT_EQ(spool->view_entry(mine, 299)->id, newer.id);
}

TEST_F(SpoolLiveView, TooManyRemovalsUntoldLoseTrack) {
  spool->watch(mine, "alice", 4096);
  for (std::size_t i = 0; i < PIGEON_IMAP_VANISHED; ++i) {
    ASSERT_EQ(spool->mark_deleted(alices[i], "alice"), SpoolStatus::ok);
  }
  EXPECT_FALSE(mine.lost_track());
  ASSERT_EQ(spool->mark_deleted(alices[PIGEON_IMAP_VANISHED], "alice"), SpoolStatus::ok);
  EXPECT_TRUE(mine.lost_track());
}

TEST_F(SpoolLiveView, AnUnwatchedViewHearsOfNoRemoval) {
  spool->watch(mine, "alice", 4096);
  spool->unwatch(mine);
  ASSERT_EQ(spool->mark_deleted(alices[0], "alice"), SpoolStatus::ok);
  EXPECT_FALSE(spool->take_vanished(mine));
  // A new watch starts from the spool as it is.
  spool->watch(mine, "alice", 4096);
  EXPECT_EQ(mine.size(), 299u);
}

// The view against a model of what its client knows, over random deliveries,
// a slow writer, removals elsewhere, its own expunges, announcements and
// extensions: every message keeps its number until it is taken, new mail
// comes in id order, and each lookup finds what the model says.
class SpoolLiveViewModel : public ::testing::TestWithParam<unsigned> {
 protected:
  struct Shown {
    MessageId id;
    bool vanished;
    bool operator==(const Shown&) const = default;
  };
  SimulatedChip chip{hal::FlashGeometry{65536, 16, 16}};
  std::unique_ptr<Spool> spool = make_spool(chip.flash());
  LiveMailboxView view;
  std::vector<Shown> shown;           // what the client knows, in order
  std::vector<MessageId> not_shown;   // committed above the view, ascending
  std::optional<SpoolWriter> slow;    // one message being written at a time
  std::mt19937 random{GetParam()};

  void TearDown() override { spool->unwatch(view); }
  std::size_t pick(std::size_t count) { return std::uniform_int_distribution<std::size_t>(0, count - 1)(random); }
  std::vector<std::size_t> live_places() const {
    std::vector<std::size_t> places;
    for (std::size_t i = 0; i < shown.size(); ++i) {
      if (!shown[i].vanished) places.push_back(i);
    }
    return places;
  }
  void deliver() {
    const std::array to_alice{alice};
    const Outcome stored = store_message(*spool, {"s@lan.example", to_alice, false}, "m");
    ASSERT_EQ(stored.status, SpoolStatus::ok);
    not_shown.push_back(stored.id);
  }
  void finish_slow() {
    if (pick(2) == 0) {
      const std::array<std::uint8_t, 1> byte{'s'};
      ASSERT_EQ(spool->append(*slow, byte), SpoolStatus::ok);
      ASSERT_EQ(spool->commit(*slow), SpoolStatus::ok);
      not_shown.insert(std::lower_bound(not_shown.begin(), not_shown.end(), slow->message_id()), slow->message_id());
    } else {
      spool->discard(*slow);
    }
    slow.reset();
  }
  void remove_elsewhere() {
    const std::vector<std::size_t> places = live_places();
    const std::size_t vanished = shown.size() - places.size();
    if (places.empty() || vanished + 1 >= PIGEON_IMAP_VANISHED) return;
    Shown& victim = shown[places[pick(places.size())]];
    ASSERT_EQ(spool->mark_deleted(victim.id, "alice"), SpoolStatus::ok);
    victim.vanished = true;
  }
  void expunge_own() {
    const std::vector<std::size_t> places = live_places();
    if (places.empty()) return;
    const std::size_t place = places[pick(places.size())];
    ASSERT_EQ(spool->remove_from_view(view, place), SpoolStatus::ok);
    shown.erase(shown.begin() + static_cast<std::ptrdiff_t>(place));
  }
  void announce() {
    std::optional<std::size_t> oldest;
    for (std::size_t i = 0; i < shown.size(); ++i) {
      if (shown[i].vanished && (!oldest || shown[i].id < shown[*oldest].id)) oldest = i;
    }
    EXPECT_EQ(spool->take_vanished(view), oldest);
    if (oldest) shown.erase(shown.begin() + static_cast<std::ptrdiff_t>(*oldest));
  }
  void extend() {
    // New mail waits while a message below it is still being written.
    std::size_t taken = 0;
    while (taken < not_shown.size() && (!slow || not_shown[taken] < slow->message_id())) {
      shown.push_back({not_shown[taken++], false});
    }
    not_shown.erase(not_shown.begin(), not_shown.begin() + static_cast<std::ptrdiff_t>(taken));
    EXPECT_EQ(spool->extend_view(view), taken);
  }
  std::vector<Shown> seen_by_view() {
    std::vector<Shown> seen;
    for (std::size_t i = 0; i < view.size(); ++i) {
      const std::optional<MaildropEntry> entry = spool->view_entry(view, i);
      seen.push_back(entry ? Shown{entry->id, entry->vanished} : Shown{0, false});
    }
    return seen;
  }
};

TEST_P(SpoolLiveViewModel, AgreesWithTheClientsModel) {
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  for (int i = 0; i < 40; ++i) deliver();
  spool->watch(view, "alice", 4096);
  for (MessageId id : not_shown) shown.push_back({id, false});
  not_shown.clear();
  const std::array to_alice{alice};
  for (int step = 0; step < 1500 && !HasFailure(); ++step) {
    switch (pick(8)) {
      case 0:
      case 1: deliver(); break;
      case 2:
        if (slow) {
          finish_slow();
        } else {
          slow.emplace();
          ASSERT_EQ(spool->open_message({"s@lan.example", to_alice, false}, *slow), SpoolStatus::ok);
        }
        break;
      case 3: remove_elsewhere(); break;
      case 4: expunge_own(); break;
      case 5: announce(); break;
      case 6: extend(); break;
      default: {
        // Lookups out of order too: each finds its own message.
        if (shown.empty()) break;
        const std::size_t place = pick(shown.size());
        const std::optional<MaildropEntry> entry = spool->view_entry(view, place);
        ASSERT_TRUE(entry);
        EXPECT_EQ((Shown{entry->id, entry->vanished}), shown[place]) << place;
      }
    }
    ASSERT_EQ(view.size(), shown.size()) << "step " << step;
    if (step % 50 == 0) {
      ASSERT_EQ(seen_by_view(), shown) << "step " << step;
    }
  }
  EXPECT_EQ(seen_by_view(), shown);
  EXPECT_FALSE(view.lost_track());
}

INSTANTIATE_TEST_SUITE_P(Seeds, SpoolLiveViewModel, ::testing::Values(1u, 2u, 3u, 4u));

}  // namespace
}  // namespace pigeon::testing
