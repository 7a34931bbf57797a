// IMAP's flags and folders on flash (docs/spool-format.md §3.7): the latest
// mailbox state record of a message is the state of each recipient it names;
// it survives a remount and reclaim, and each user of a message has their own.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "tests/spool/spool_fixture.hpp"

namespace pigeon::testing {
namespace {

constexpr MailboxState seen{MailboxState::seen, MailboxState::inbox};
constexpr MailboxState answered{MailboxState::seen | MailboxState::answered, MailboxState::inbox};
constexpr MailboxState flagged{MailboxState::flagged | MailboxState::draft, MailboxState::inbox};
constexpr MailboxState draft_in_drafts{MailboxState::flagged | MailboxState::draft, MailboxState::drafts};

class SpoolMailboxState : public MountedSpoolTest {
 protected:
  MessageId store(std::span<const SpoolRecipient> recipients, std::uint32_t seed) {
    const Outcome stored = store_message(*spool, {"sender@lan.example", recipients, false}, make_body(seed, 900));
    EXPECT_EQ(stored.status, SpoolStatus::ok);
    return stored.id;
  }
  void set(MessageId id, std::string_view mailbox, MailboxState state) {
    ASSERT_EQ(spool->set_mailbox_flags(id, mailbox, state.flags), SpoolStatus::ok);
    ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  }
};

TEST_P(SpoolMailboxState, ANewMessageIsInTheInboxUnflagged) {
  const std::array recipients{alice};
  const MessageId id = store(recipients, 1);
  EXPECT_EQ(spool->mailbox_state(id, "alice"), MailboxState{});
  remount();
  EXPECT_EQ(spool->mailbox_state(id, "alice"), MailboxState{});
}

TEST_P(SpoolMailboxState, RemountReplaysTheLatestRecord) {
  const std::array recipients{alice};
  const MessageId id = store(recipients, 2);
  const MessageId other = store(recipients, 3);
  set(id, "alice", seen);
  set(other, "alice", flagged);
  set(id, "alice", answered);
  EXPECT_EQ(spool->mailbox_state(id, "alice"), answered);
  remount();
  EXPECT_EQ(spool->mailbox_state(id, "alice"), answered);
  EXPECT_EQ(spool->mailbox_state(other, "alice"), flagged);
  set(id, "alice", MailboxState{});
  remount();
  EXPECT_EQ(spool->mailbox_state(id, "alice"), MailboxState{}) << "a record that clears every flag is a state too";
}

TEST_P(SpoolMailboxState, EachUserOfAMessageHasTheirOwnState) {
  const std::array recipients{remote, bob, alice};
  const MessageId id = store(recipients, 4);
  set(id, "bob", seen);
  set(id, "alice", answered);
  set(id, "bob", flagged);
  remount();
  EXPECT_EQ(spool->mailbox_state(id, "alice"), answered);
  EXPECT_EQ(spool->mailbox_state(id, "bob"), flagged);
  // Bob's deletion leaves alice's copy, and her state, as they were.
  ASSERT_EQ(spool->mark_deleted(id, "bob"), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  remount();
  EXPECT_EQ(spool->mailbox_state(id, "alice"), answered);
}

TEST_P(SpoolMailboxState, OnlyTheUsersOwnMessagesHaveAState) {
  const std::array recipients{alice, remote};
  const MessageId id = store(recipients, 5);
  EXPECT_FALSE(spool->mailbox_state(id, "bob"));
  EXPECT_FALSE(spool->mailbox_state(id, ""));
  EXPECT_FALSE(spool->mailbox_state(id + 1, "alice"));
  EXPECT_EQ(spool->set_mailbox_flags(id, "bob", seen.flags), SpoolStatus::not_found);
  EXPECT_EQ(spool->set_mailbox_flags(id, "nobody", seen.flags), SpoolStatus::not_found);
  EXPECT_EQ(spool->set_mailbox_flags(id + 1, "alice", seen.flags), SpoolStatus::not_found);
}

// An IMAP APPEND's flags and folder are in its begin: no cut can show the
// message without them (§3.7).
TEST_P(SpoolMailboxState, TheBeginCarriesTheStateAMessageIsWrittenWith) {
  const std::array recipients{alice};
  SpoolWriter writer;
  ASSERT_EQ(spool->open_message({"", recipients, false, 0}, writer, draft_in_drafts), SpoolStatus::ok);
  const std::string body = make_body(6, 300);
  ASSERT_EQ(spool->append(writer, {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}), SpoolStatus::ok);
  ASSERT_EQ(spool->commit(writer), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  const MessageId id = writer.message_id();
  EXPECT_EQ(spool->mailbox_state(id, "alice"), draft_in_drafts);
  remount();
  EXPECT_EQ(spool->mailbox_state(id, "alice"), draft_in_drafts);
  set(id, "alice", seen);  // flags change; the folder is the one it was written into
  remount();
  EXPECT_EQ(spool->mailbox_state(id, "alice"), (MailboxState{MailboxState::seen, MailboxState::drafts}));
}

// A message written into a folder is listed there only: POP3 (and IMAP's
// INBOX) see INBOX, and each folder's view takes in what is written into it.
TEST_P(SpoolMailboxState, EachFolderListsWhatWasWrittenIntoIt) {
  const std::array recipients{alice};
  const MessageId inbox = store(recipients, 7);
  SpoolWriter writer;
  ASSERT_EQ(spool->open_message({"", recipients, false, 0}, writer, draft_in_drafts), SpoolStatus::ok);
  ASSERT_EQ(spool->commit(writer), SpoolStatus::ok);
  const MessageId draft = writer.message_id();
  std::vector<MaildropEntry> entries(8);
  ASSERT_EQ(spool->list_mailbox("alice", entries), 1u);
  EXPECT_EQ(entries[0].id, inbox);
  ASSERT_EQ(spool->list_mailbox("alice", entries, MailboxState::drafts), 1u);
  EXPECT_EQ(entries[0].id, draft);
  EXPECT_EQ(spool->list_mailbox("alice", entries, MailboxState::trash), 0u);
  // A watched folder hears of its own messages' changes only.
  LiveMailboxView drafts, inbox_view;
  spool->watch(drafts, "alice", 8, MailboxState::drafts);
  spool->watch(inbox_view, "alice", 8);
  ASSERT_EQ(spool->set_mailbox_flags(inbox, "alice", MailboxState::seen), SpoolStatus::ok);
  EXPECT_FALSE(Spool::take_state_changes(drafts));
  EXPECT_TRUE(Spool::take_state_changes(inbox_view));
  ASSERT_EQ(spool->set_mailbox_flags(draft, "alice", MailboxState::seen), SpoolStatus::ok);
  EXPECT_TRUE(Spool::take_state_changes(drafts));
  EXPECT_FALSE(Spool::take_state_changes(inbox_view));
  ASSERT_EQ(spool->mark_deleted(inbox, "alice"), SpoolStatus::ok);
  EXPECT_EQ(drafts.size(), 1u);
  EXPECT_FALSE(spool->take_vanished(drafts));
  EXPECT_TRUE(spool->take_vanished(inbox_view));
  // New drafts join the drafts view, not INBOX's.
  ASSERT_EQ(spool->open_message({"", recipients, false, 0}, writer, draft_in_drafts), SpoolStatus::ok);
  ASSERT_EQ(spool->commit(writer), SpoolStatus::ok);
  EXPECT_EQ(spool->extend_view(drafts), 1u);
  EXPECT_EQ(spool->extend_view(inbox_view), 0u);
  spool->unwatch(drafts);
  spool->unwatch(inbox_view);
  remount();
  EXPECT_EQ(spool->list_mailbox("alice", entries, MailboxState::drafts), 2u);
  EXPECT_EQ(spool->list_mailbox("alice", entries), 0u);
}

INSTANTIATE_TEST_SUITE_P(Geometries, SpoolMailboxState,
                         ::testing::Values(hal::FlashGeometry{4096, 8, 16}, hal::FlashGeometry{4096, 8, 1},
                                           hal::FlashGeometry{8192, 6, 256}),
                         geometry_name);

// The ring goes round past a message whose user changed its state: reclaim
// copies the latest state record after the copy's commit (§7), and the
// states of alice and bob both come with it.
TEST(SpoolMailboxStateReclaim, CarriesTheLatestStateOfEveryUser) {
  SimulatedChip chip(hal::FlashGeometry{4096, 8, 16});
  std::unique_ptr<Spool> spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  const std::array recipients{alice, bob};
  const Outcome kept = store_message(*spool, {"sender@lan.example", recipients, false}, make_body(10, 700));
  ASSERT_EQ(kept.status, SpoolStatus::ok);
  ASSERT_EQ(spool->set_mailbox_flags(kept.id, "alice", seen.flags), SpoolStatus::ok);
  ASSERT_EQ(spool->set_mailbox_flags(kept.id, "bob", flagged.flags), SpoolStatus::ok);
  ASSERT_EQ(spool->set_mailbox_flags(kept.id, "alice", answered.flags), SpoolStatus::ok);
  const std::array filler_recipients{remote};
  for (std::uint32_t i = 0; spool->reclaim_counters().messages_copied < 2; ++i) {
    ASSERT_LT(i, 400u) << "reclaim never copied the message twice";
    const Outcome filler =
        store_message(*spool, {"sensor@lan.example", filler_recipients, false}, make_body(20 + i, 1500));
    ASSERT_EQ(filler.status, SpoolStatus::ok);
    ASSERT_EQ(spool->mark_recipient(filler.id, 0, RecipientOutcome::relayed), SpoolStatus::ok);
    // The second lap copies the copy: its state record was copied too.
    EXPECT_EQ(spool->mailbox_state(kept.id, "alice"), answered);
  }
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  EXPECT_EQ(spool->mailbox_state(kept.id, "alice"), answered);
  EXPECT_EQ(spool->mailbox_state(kept.id, "bob"), flagged);
  EXPECT_EQ(read_message(*spool, kept.id), make_body(10, 700));
}

// When only the reserve is left, a state that marks a message \Deleted is
// still recorded (expunging it is how the user makes room); others are not.
TEST(SpoolMailboxStateReclaim, OnlyADeletionMayTakeTheReserve) {
  SimulatedChip chip(hal::FlashGeometry{4096, 8, 16});
  std::unique_ptr<Spool> spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  const std::array recipients{alice};
  const std::vector<MessageId> stored = fill_spool(*spool, recipients, 600);
  ASSERT_FALSE(stored.empty());
  SpoolStatus refused = SpoolStatus::ok;
  for (std::size_t i = 0; i < 100 && refused == SpoolStatus::ok; ++i) {
    refused = spool->set_mailbox_flags(stored[i % stored.size()], "alice", i % 2 ? MailboxState::seen : MailboxState::flagged);
  }
  EXPECT_EQ(refused, SpoolStatus::full);
  ASSERT_EQ(spool->set_mailbox_flags(stored.front(), "alice", MailboxState::deleted), SpoolStatus::ok);
  ASSERT_EQ(spool->mark_deleted(stored.front(), "alice"), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
}

// §2.1: version 6 only adds a record type and a begin byte that version 5
// wrote as 0, so sectors of version 5 are read as they are: an upgrade keeps
// the mail. New sectors are written in the version of the day.
TEST(SpoolMailboxStateUpgrade, VersionFiveSectorsKeepTheirMail) {
  const hal::FlashGeometry geometry{4096, 8, 16};
  SimulatedChip chip(geometry);
  std::unique_ptr<Spool> spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  const std::array recipients{alice, remote};
  const Outcome stored = store_message(*spool, {"sender@lan.example", recipients, false}, make_body(40, 5000));
  ASSERT_EQ(stored.status, SpoolStatus::ok);
  rewrite_headers_as_version(chip, 5);
  std::size_t downgraded = 0;
  for (std::uint32_t s = 0; s < geometry.sector_count; ++s) {
    const auto header = spool_format::SectorHeader::decode(
        std::span(chip.bytes()).subspan(s * geometry.sector_size_bytes, spool_format::SectorHeader::bytes));
    downgraded += header && header->version == 5 ? 1 : 0;
  }
  ASSERT_GT(downgraded, 1u);
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  std::vector<MaildropEntry> entries(4);
  ASSERT_EQ(spool->list_mailbox("alice", entries), 1u);
  EXPECT_EQ(read_message(*spool, stored.id), make_body(40, 5000));
  EXPECT_EQ(spool->mailbox_state(stored.id, "alice"), MailboxState{});
  ASSERT_EQ(spool->set_mailbox_flags(stored.id, "alice", seen.flags), SpoolStatus::ok);
  ASSERT_EQ(spool->sync(), SpoolStatus::ok);
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  EXPECT_EQ(spool->mailbox_state(stored.id, "alice"), seen);
  ASSERT_TRUE(spool->next_outbound(0));
}

}  // namespace
}  // namespace pigeon::testing
