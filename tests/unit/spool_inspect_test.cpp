// tools/spool-inspect, written from docs/spool-format.md alone, reads an image
// the real spool wrote (with reclaim copies, outcomes, attempts, a bounce, a
// deletion) and agrees with the spool on ids, sizes and per-recipient states;
// it shows arrival and retry state, and exits nonzero when a record is corrupt.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "tests/spool/spool_model.hpp"

namespace pigeon::testing {
namespace {

constexpr hal::FlashGeometry geometry{4096, 8, 16};

std::string repository_root() { return PIGEON_SOURCE_DIR; }

struct InspectorRun {
  int exit_status = -1;
  std::string output;
};

InspectorRun inspect(const std::vector<std::uint8_t>& image, const std::string& options = "--summary") {
  // One file per test: ctest runs the tests of this file in parallel.
  const std::string path = ::testing::TempDir() + "spool_inspect_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".img";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
  const std::string command = "/usr/bin/python3 " + repository_root() + "tools/spool-inspect " + options + " " + path;
  InspectorRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) run.output += buffer;
  run.exit_status = ::pclose(pipe);
  std::remove(path.c_str());
  return run;
}

// The summary line of each live message as the spool and the model see it.
std::string expected_summary(const SpoolModel& model, MessageId bounced) {
  std::string out;
  for (const auto& [id, message] : model.messages()) {
    if (!message.acknowledged || message.done.size() == message.recipients.size()) continue;
    char head[64];
    std::snprintf(head, sizeof head, "%08X %zu deliverable ", id, message.body.size());
    out += head;
    for (std::uint8_t r = 0; r < message.recipients.size(); ++r) {
      const bool done = message.done.count(r) != 0;
      const bool local = !message.recipients[r].mailbox.empty();
      out += r == 0 ? "" : ",";
      const bool waits = !done && !local && message.attempts_acknowledged > 0;
      out += waits ? "owed:" + std::to_string(message.attempts_acknowledged)
             : !done ? "owed"
             : local ? "deleted"
             : id == bounced ? "bounced"
                             : "relayed";
    }
    out += "\n";
  }
  return out;
}

TEST(SpoolInspector, AgreesWithTheSpoolAfterReclaim) {
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  SpoolModel model;
  const std::vector<ModelRecipient> alice_and_two_remote{
      {"alice@home.example", "alice"}, {"carol@far.example", ""}, {"dave@far.example", ""}};
  ASSERT_EQ(model.store(*spool, alice_and_two_remote, make_body(1, 1800)), SpoolStatus::ok);
  const MessageId unread = model.messages().begin()->first;
  ASSERT_EQ(model.finish(*spool, unread, {1}), SpoolStatus::ok);  // relayed; alice has not read it
  for (int i = 0; i < 2; ++i) ASSERT_EQ(model.record_attempt(*spool, unread, 1u << 2), SpoolStatus::ok);
  // Enough traffic for the ring to go round twice: the unread message is copied forward.
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(model.store(*spool, i % 2 ? to_remote : to_alice_and_bob, make_body(10 + i, 1500)), SpoolStatus::ok);
    const std::vector<MessageId> live = model.live();
    if (live.size() > 4) {
      const MessageId oldest_other = live[1];
      std::vector<std::uint8_t> all;
      for (std::uint8_t r = 0; r < model.messages().at(oldest_other).recipients.size(); ++r) all.push_back(r);
      ASSERT_EQ(model.finish(*spool, oldest_other, all), SpoolStatus::ok);
    }
  }
  const std::vector<MessageId> live = model.live();
  ASSERT_EQ(model.finish(*spool, live[1], {0}), SpoolStatus::ok);  // a POP3 deletion by one of two users
  const MessageId bounced = *std::find_if(live.begin(), live.end(), [&](MessageId id) {
    return model.messages().at(id).recipients == to_remote;
  });
  ASSERT_EQ(model.finish(*spool, bounced, {0}, RecipientOutcome::bounced), SpoolStatus::ok);
  ASSERT_TRUE(model.check(*spool).empty());
  EXPECT_GT(chip.flash().counts(0).erases, 1u);  // the ring went round: the unread message was copied

  const InspectorRun run = inspect(chip.bytes());
  EXPECT_EQ(run.exit_status, 0) << run.output;
  EXPECT_EQ(run.output, expected_summary(model, bounced));
  EXPECT_NE(run.output.find("owed,relayed,owed:2"), std::string::npos);  // the unread, copied message
}

// RFC 5321's hundred recipients, with outcomes on both sides of the first
// 32 (the old format's limit) and an attempt naming the last one.
TEST(SpoolInspector, AgreesOnEachOfAHundredRecipients) {
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  SpoolModel model;
  std::vector<ModelRecipient> recipients;
  for (int r = 0; r < 100; ++r) {
    recipients.push_back(r == 40 ? ModelRecipient{"alice@home.example", "alice"}
                                 : ModelRecipient{"r" + std::to_string(r) + "@far.example", ""});
  }
  ASSERT_EQ(model.store(*spool, recipients, make_body(5, 700)), SpoolStatus::ok);
  const MessageId id = model.messages().begin()->first;
  ASSERT_EQ(model.finish(*spool, id, {0, 31, 32, 40, 98}), SpoolStatus::ok);
  RecipientSet last;
  last[99] = true;
  ASSERT_EQ(model.record_attempt(*spool, id, last), SpoolStatus::ok);
  ASSERT_TRUE(model.check(*spool).empty());

  const InspectorRun run = inspect(chip.bytes());
  EXPECT_EQ(run.exit_status, 0) << run.output;
  char head[32];
  std::snprintf(head, sizeof head, "%08X 700 deliverable ", id);
  std::string expected = head;
  for (int r = 0; r < 100; ++r) {
    expected += r == 0 ? "" : ",";
    expected += r == 0 || r == 31 || r == 32 || r == 98 ? "relayed" : r == 40 ? "deleted" : r == 99 ? "owed:1" : "owed";
  }
  EXPECT_EQ(run.output, expected + "\n");
}

TEST(SpoolInspector, ShowsArrivalAttemptsNextRetryAndLastReply) {
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  SpoolModel model;
  ASSERT_EQ(model.store(*spool, to_remote, make_body(3, 500)), SpoolStatus::ok);
  const MessageId id = model.messages().begin()->first;
  for (int i = 0; i < 2; ++i) ASSERT_EQ(model.record_attempt(*spool, id, 1), SpoolStatus::ok);
  const InspectorRun run = inspect(chip.bytes(), "");
  EXPECT_EQ(run.exit_status, 0) << run.output;
  // The model's clock starts at 1,700,000,000 s; the n-th retry is n minutes after arrival.
  EXPECT_NE(run.output.find("arrived 2023-11-14 22:13:20 UTC"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("attempts 2, next retry 2023-11-14 22:15:20 UTC, last reply: 451 4.3.0 Try again later"),
            std::string::npos)
      << run.output;
}

// §3.7: each local user's flags and folder, the latest record's; a message
// written with a state (an IMAP APPEND to Drafts) shows the begin's; a copy
// made by reclaim keeps them.
TEST(SpoolInspector, ShowsEachUsersImapFlagsAndFolder) {
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  SpoolModel model;
  ASSERT_EQ(model.store(*spool, to_alice_and_bob, make_body(4, 700)), SpoolStatus::ok);
  const MessageId shared = model.messages().begin()->first;
  ASSERT_EQ(model.store(*spool, to_alice, make_body(5, 300), false, {MailboxState::draft, MailboxState::drafts}),
            SpoolStatus::ok);
  ASSERT_EQ(model.set_flags(*spool, shared, "bob", MailboxState::flagged), SpoolStatus::ok);
  ASSERT_EQ(model.set_flags(*spool, shared, "alice", MailboxState::seen | MailboxState::answered), SpoolStatus::ok);
  // The ring goes round: the shared message and its state are copied.
  for (std::uint32_t i = 0; spool->reclaim_counters().messages_copied < 2; ++i) {
    ASSERT_LT(i, 200u);
    ASSERT_EQ(model.store(*spool, to_remote, make_body(10 + i, 1500)), SpoolStatus::ok);
    ASSERT_EQ(model.finish(*spool, model.live().back(), {0}), SpoolStatus::ok);
  }
  const InspectorRun run = inspect(chip.bytes(), "");
  EXPECT_EQ(run.exit_status, 0) << run.output;
  const std::size_t alice = run.output.find("alice@home.example");
  const std::size_t bob = run.output.find("bob@home.example");
  ASSERT_NE(bob, std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("imap: \\Seen \\Answered in INBOX", alice), run.output.find("imap: ", alice)) << run.output;
  EXPECT_EQ(run.output.find("imap: \\Flagged in INBOX", bob), run.output.find("imap: ", bob)) << run.output;
  EXPECT_NE(run.output.find("imap: \\Draft in Drafts"), std::string::npos) << run.output;
}

// §2.1: the UIDVALIDITY of version 7, the 1 of versions 5 and 6, one value
// over a log that mixes them after an upgrade, and a problem when the log's
// sectors disagree.
TEST(SpoolInspector, ShowsTheUidValidityOfEachVersion) {
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(1765000000), SpoolStatus::ok);
  SpoolModel model;
  for (std::uint32_t i = 0; i < 3; ++i) ASSERT_EQ(model.store(*spool, to_alice, make_body(i, 1800)), SpoolStatus::ok);
  const std::string summary = expected_summary(model, 0);
  InspectorRun run = inspect(chip.bytes(), "");
  EXPECT_EQ(run.exit_status, 0) << run.output;
  EXPECT_NE(run.output.find("uidvalidity: 1765000000\n"), std::string::npos) << run.output;
  run = inspect(chip.bytes(), "--json");
  EXPECT_NE(run.output.find("\"uid_validity\": 1765000000,"), std::string::npos) << run.output;

  for (const std::uint16_t version : {std::uint16_t{5}, std::uint16_t{6}}) {
    rewrite_headers_as_version(chip, version);
    run = inspect(chip.bytes(), "");
    EXPECT_EQ(run.exit_status, 0) << run.output;
    EXPECT_NE(run.output.find("uidvalidity: 1\n"), std::string::npos) << run.output;
    EXPECT_EQ(inspect(chip.bytes()).output, summary) << version;
  }
  // Upgraded: the new sectors (version 7) carry the 1 on.
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(1765000000), SpoolStatus::ok);
  for (std::uint32_t i = 0; i < 2; ++i) ASSERT_EQ(model.store(*spool, to_alice, make_body(9 + i, 1800)), SpoolStatus::ok);
  run = inspect(chip.bytes(), "");
  EXPECT_EQ(run.exit_status, 0) << run.output;
  EXPECT_NE(run.output.find("uidvalidity: 1\n"), std::string::npos) << run.output;
  run = inspect(chip.bytes(), "--json");
  EXPECT_NE(run.output.find("\"version\": 6,"), std::string::npos) << run.output;
  const std::size_t version_7 = run.output.find("\"version\": 7,");
  ASSERT_NE(version_7, std::string::npos) << run.output;

  // A version-7 header of the log that says otherwise (a writer's bug, a foreign image).
  const std::size_t sector = std::stoul(run.output.substr(run.output.rfind("\"sector\": ", version_7) + 10));
  auto bytes = std::span(chip.bytes()).subspan(sector * geometry.sector_size_bytes, spool_format::SectorHeader::bytes);
  auto header = spool_format::SectorHeader::decode(bytes);
  ASSERT_TRUE(header);
  header->uid_validity = 99;
  header->encode(bytes);
  run = inspect(chip.bytes(), "");
  EXPECT_NE(run.exit_status, 0);
}

TEST(SpoolInspector, ReportsACorruptBodyAndExitsNonzero) {
  SimulatedChip chip(geometry);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  SpoolModel model;
  const std::string body = make_body(7, 2000);
  ASSERT_EQ(model.store(*spool, to_alice, body), SpoolStatus::ok);
  ASSERT_EQ(inspect(chip.bytes()).exit_status, 0);
  const std::string_view image(reinterpret_cast<const char*>(chip.bytes().data()), chip.bytes().size());
  const std::size_t at = image.find(std::string_view(body).substr(500, 32));
  ASSERT_NE(at, std::string_view::npos);
  chip.flash().flip_bit(static_cast<std::uint32_t>(at), 0);
  const InspectorRun run = inspect(chip.bytes());
  EXPECT_NE(run.exit_status, 0);
  EXPECT_NE(run.output.find("corrupt"), std::string::npos) << run.output;
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  std::vector<MaildropEntry> entries(4);
  EXPECT_EQ(spool->list_mailbox("alice", entries), 0u);  // the relay agrees: never delivered
}

}  // namespace
}  // namespace pigeon::testing
