// Power cut at every flash operation of each scenario, with and without a torn
// operation; after each cut the spool is remounted and held to its promise
// (tests/spool/spool_model.hpp), then must accept and return new mail.
//
// CI runs a sample of the cut points; PIGEON_POWERLOSS_FULL=1 runs them all.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "tests/spool/spool_model.hpp"

namespace pigeon::testing {
namespace {

constexpr hal::FlashGeometry small_flash{4096, 8, 16};

// A scenario: `setup` runs on a fresh chip without faults, `run` is where
// power is cut. Both stop at the first status that is not ok.
struct Scenario {
  const char* name;
  std::function<void(Spool&, SpoolModel&)> setup;
  std::function<void(Spool&, SpoolModel&)> run;
};

bool full_run() {
  const char* full = std::getenv("PIGEON_POWERLOSS_FULL");
  return full != nullptr && full[0] == '1';
}

// At most about this many cut points per scenario and tear mode in CI.
constexpr std::uint64_t ci_cut_points = 300;

struct CutReport {
  std::uint64_t operations = 0;  // cut points: one per program or erase of `run`
  std::uint64_t tried = 0;       // cuts actually made (both tear modes)
  std::vector<std::string> violations;
};

// Mounts after a cut, checks the promise, and checks that mail is accepted.
void recover_and_check(SimulatedChip& chip, SpoolModel& model, const std::string& where, CutReport& report) {
  chip.flash().restore_power();
  auto spool = make_spool(chip.flash());
  if (spool->mount() != SpoolStatus::ok) {
    report.violations.push_back(where + ": mount failed");
    return;
  }
  for (const std::string& problem : model.check(*spool)) report.violations.push_back(where + ": " + problem);
  // Accepts mail again: make room the way the relay would, then store.
  for (MessageId id : model.live()) {
    if (spool->usage().free_sectors > PIGEON_SPOOL_RESERVE_SECTORS + 1) break;
    std::vector<std::uint8_t> all;
    for (std::uint8_t r = 0; r < model.messages().at(id).recipients.size(); ++r) all.push_back(r);
    const SpoolStatus status = model.finish(*spool, id, all);
    if (status != SpoolStatus::ok) {
      report.violations.push_back(where + ": cannot record an outcome, status " + std::to_string(static_cast<int>(status)));
    }
  }
  if (model.store(*spool, to_alice, make_body(999, 1200)) != SpoolStatus::ok) {
    report.violations.push_back(where + ": new mail refused after recovery");
  }
  for (const std::string& problem : model.check(*spool)) report.violations.push_back(where + " (after new mail): " + problem);
}

CutReport cut_everywhere(const Scenario& scenario, const hal::FlashGeometry& geometry) {
  CutReport report;
  {
    SimulatedChip chip(geometry);
    SpoolModel model;
    auto spool = make_spool(chip.flash());
    EXPECT_EQ(spool->mount(), SpoolStatus::ok);
    scenario.setup(*spool, model);
    const std::uint64_t before = chip.flash().operations();
    scenario.run(*spool, model);
    report.operations = chip.flash().operations() - before;
  }
  const std::uint64_t stride = full_run() ? 1 : std::max<std::uint64_t>(1, report.operations / ci_cut_points);
  for (std::uint64_t cut = 0; cut < report.operations; cut += stride) {
    for (const bool tear : {false, true}) {
      SimulatedChip chip(geometry);
      SpoolModel model;
      auto spool = make_spool(chip.flash());
      EXPECT_EQ(spool->mount(), SpoolStatus::ok);
      scenario.setup(*spool, model);
      chip.flash().cut_power_after(cut, tear, static_cast<std::uint32_t>(cut));
      scenario.run(*spool, model);
      EXPECT_TRUE(chip.flash().power_lost());
      spool.reset();
      recover_and_check(chip, model, std::string(scenario.name) + " cut " + std::to_string(cut) + (tear ? " torn" : ""),
                        report);
      ++report.tried;
    }
  }
  return report;
}

void report_and_expect_none(const Scenario& scenario, const CutReport& report) {
  std::printf("[powerloss] %-31s %5llu cut points, %6llu cuts made, %zu violations%s\n",
              scenario.name, static_cast<unsigned long long>(report.operations),
              static_cast<unsigned long long>(report.tried), report.violations.size(), full_run() ? "" : " (sampled)");
  for (std::size_t i = 0; i < std::min<std::size_t>(report.violations.size(), 10); ++i) {
    ADD_FAILURE() << report.violations[i];
  }
  EXPECT_GT(report.operations, 0u);
}

void nothing(Spool&, SpoolModel&) {}

void store_many(Spool& spool, SpoolModel& model, int count, std::uint32_t seed) {
  for (int i = 0; i < count; ++i) {
    const auto& recipients = i % 3 == 0 ? to_alice : i % 3 == 1 ? to_alice_and_remote : to_remote;
    if (model.store(spool, recipients, make_body(seed + i, 700 + 211 * (i % 7))) != SpoolStatus::ok) return;
  }
}

// Relays or deletes every recipient of the oldest live messages.
void finish_oldest(Spool& spool, SpoolModel& model, std::size_t count) {
  const std::vector<MessageId> live = model.live();
  for (std::size_t i = 0; i < std::min(count, live.size()); ++i) {
    std::vector<std::uint8_t> all;
    for (std::uint8_t r = 0; r < model.messages().at(live[i]).recipients.size(); ++r) all.push_back(r);
    if (model.finish(spool, live[i], all) != SpoolStatus::ok) return;
  }
}

const Scenario accept_one{"accept one message", nothing, [](Spool& spool, SpoolModel& model) {
                            model.store(spool, to_alice_and_remote, make_body(1, 3000));
                          }};

const Scenario alert_commit{"alert commit", nothing, [](Spool& spool, SpoolModel& model) {
                              model.store(spool, to_remote, make_body(2, 400));
                            }};

const Scenario accept_until_full{"accept many until full", nothing, [](Spool& spool, SpoolModel& model) {
                                   for (int i = 0; i < 200; ++i) {
                                     if (model.store(spool, to_alice, make_body(100 + i, 1500)) != SpoolStatus::ok) return;
                                   }
                                 }};

// A temporary failure of every remote recipient, then their relay.
const Scenario relay_outcomes{"relay attempt and outcome",
                              [](Spool& spool, SpoolModel& model) { store_many(spool, model, 6, 200); },
                              [](Spool& spool, SpoolModel& model) {
                                for (MessageId id : model.live()) {
                                  const auto& recipients = model.messages().at(id).recipients;
                                  std::uint32_t remote = 0;
                                  for (std::uint8_t r = 0; r < recipients.size(); ++r) {
                                    remote |= recipients[r].mailbox.empty() ? 1u << r : 0;
                                  }
                                  if (remote != 0 && model.record_attempt(spool, id, remote) != SpoolStatus::ok) return;
                                }
                                for (MessageId id : model.live()) {
                                  const auto& recipients = model.messages().at(id).recipients;
                                  for (std::uint8_t r = 0; r < recipients.size(); ++r) {
                                    if (recipients[r].mailbox.empty() && model.finish(spool, id, {r}) != SpoolStatus::ok) return;
                                  }
                                }
                              }};

const Scenario pop3_dele_quit{"POP3 DELE and QUIT",
                              [](Spool& spool, SpoolModel& model) {
                                for (int i = 0; i < 4; ++i) model.store(spool, to_alice_and_bob, make_body(300 + i, 900));
                              },
                              [](Spool& spool, SpoolModel& model) {
                                // One session deletes three messages; QUIT is one sync.
                                // Deletions before QUIT's sync may or may not survive a cut; after
                                // it they must. finish() of a recorded deletion only syncs again.
                                const std::vector<MessageId> live = model.live();
                                for (std::size_t i = 0; i < 3; ++i) model.attempt(live[i], 0);
                                for (std::size_t i = 0; i < 3; ++i) {
                                  if (spool.mark_deleted(live[i], "alice") != SpoolStatus::ok) return;
                                }
                                if (spool.sync() != SpoolStatus::ok) return;
                                for (std::size_t i = 0; i < 3; ++i) model.finish(spool, live[i], {0});
                              }};

// Old mail that is never fetched stays live while new mail and deliveries
// make the ring go round several times: reclaim copies and erases. The oldest
// message's remote recipient keeps failing: its attempt state is copied too.
const Scenario reclaim_while_mail_arrives{
    "reclaim while new mail arrives",
    [](Spool& spool, SpoolModel& model) {
      for (int i = 0; i < 3; ++i) model.store(spool, i == 0 ? to_alice_and_remote : to_alice, make_body(400 + i, 1000));
      store_many(spool, model, 10, 410);
    },
    [](Spool& spool, SpoolModel& model) {
      for (int round = 0; round < 80; ++round) {
        const MessageId oldest = model.live().front();
        if (round % 4 == 0 && model.messages().at(oldest).recipients == to_alice_and_remote) {
          const SpoolStatus status = model.record_attempt(spool, oldest, 1u << 1);
          if (status != SpoolStatus::ok && status != SpoolStatus::full) return;
        }
        if (model.live().size() > 12) finish_oldest(spool, model, 1);
        // The oldest three (alice's, never fetched) must be copied forward.
        const std::vector<MessageId> live = model.live();
        if (live.size() > 4) {
          const MessageId id = live[3];
          std::vector<std::uint8_t> all;
          for (std::uint8_t r = 0; r < model.messages().at(id).recipients.size(); ++r) all.push_back(r);
          if (model.finish(spool, id, all) != SpoolStatus::ok) return;
        }
        const SpoolStatus status = model.store(spool, round % 2 ? to_remote : to_alice_and_remote,
                                               make_body(500 + round, 800 + 97 * (round % 9)));
        if (status != SpoolStatus::ok && status != SpoolStatus::full) return;
      }
    }};

// Mail for alice and the smarthost: the smarthost takes one, bounces another
// and keeps failing the third, so the first two return their details and live
// on only as alice's (owed-mailbox bits, no outcomes in RAM) while new mail
// makes reclaim copy all three, outcomes spelt out from their envelopes; then
// alice deletes the first two.
const Scenario relayed_kept_for_mailbox{
    "relayed mail kept for its mailbox while reclaim copies it",
    [](Spool& spool, SpoolModel& model) {
      for (int i = 0; i < 3; ++i) model.store(spool, to_alice_and_remote, make_body(700 + i, 900));
    },
    [](Spool& spool, SpoolModel& model) {
      const std::vector<MessageId> kept = model.live();
      if (model.finish(spool, kept[0], {1}) != SpoolStatus::ok) return;
      if (model.finish(spool, kept[1], {1}, RecipientOutcome::bounced) != SpoolStatus::ok) return;
      for (int round = 0; round < 40; ++round) {
        if (round % 8 == 0) {
          const SpoolStatus status = model.record_attempt(spool, kept[2], 1u << 1);
          if (status != SpoolStatus::ok && status != SpoolStatus::full) return;
        }
        const SpoolStatus status = model.store(spool, round % 2 ? to_remote : to_alice_and_remote,
                                               make_body(710 + round, 900 + 89 * (round % 5)));
        if (status != SpoolStatus::ok && status != SpoolStatus::full) return;
        const std::vector<MessageId> live = model.live();
        if (live.size() > 6) {
          std::vector<std::uint8_t> all;
          for (std::uint8_t r = 0; r < model.messages().at(live[3]).recipients.size(); ++r) all.push_back(r);
          if (model.finish(spool, live[3], all) != SpoolStatus::ok) return;
        }
      }
      for (int i = 0; i < 2; ++i) {
        if (model.finish(spool, kept[i], {0}) != SpoolStatus::ok) return;
      }
    }};

// A client drips its DATA while other mail goes through and the ring goes
// round: reclaim aborts the open message when it needs the sector where it
// begins, and copies the acknowledged (never fetched) message beside it.
const Scenario open_message_aborted{
    "open message aborted by reclaim",
    [](Spool& spool, SpoolModel& model) { model.store(spool, to_alice, make_body(600, 700)); },
    [](Spool& spool, SpoolModel& model) {
      const std::array recipients{alice};
      SpoolWriter slow;
      if (spool.open_message({"slow@lan.example", recipients, false}, slow) != SpoolStatus::ok) return;
      const std::array<std::uint8_t, 1> drip{'x'};
      for (std::uint32_t round = 0; round < 30; ++round) {
        const SpoolStatus dripped = spool.append(slow, drip);
        if (dripped != SpoolStatus::ok && dripped != SpoolStatus::aborted) return;
        if (model.store(spool, to_remote, make_body(610 + round, 1200)) != SpoolStatus::ok) return;
        if (model.finish(spool, model.live().back(), {0}) != SpoolStatus::ok) return;
      }
      spool.discard(slow);
    }};

// RFC 5321's hundred recipients: alice is recipient 3, bob 97, the rest are
// relayed. Their outcomes come one by one and in groups while other mail
// makes the ring go round, so reclaim copies the message with some recipients
// done and the rest owed (docs/spool-format.md §3.1: the copy's begin carries them).
std::vector<ModelRecipient> hundred_recipients() {
  std::vector<ModelRecipient> recipients;
  for (int r = 0; r < 100; ++r) {
    if (r == 3) recipients.push_back({"alice@home.example", "alice"});
    else if (r == 97) recipients.push_back({"bob@home.example", "bob"});
    else recipients.push_back({"r" + std::to_string(r) + "@far.example", ""});
  }
  return recipients;
}

const Scenario hundred_recipients_relayed{
    "a hundred recipients relayed while reclaim copies them",
    [](Spool& spool, SpoolModel& model) { model.store(spool, hundred_recipients(), make_body(700, 1500)); },
    [](Spool& spool, SpoolModel& model) {
      const MessageId id = model.live().front();
      const auto& recipients = model.messages().at(id).recipients;
      RecipientSet remote;
      for (std::uint8_t r = 0; r < recipients.size(); ++r) remote[r] = recipients[r].mailbox.empty();
      if (model.record_attempt(spool, id, remote) != SpoolStatus::ok) return;
      std::vector<std::uint8_t> group;
      for (std::uint8_t r = 0; r < recipients.size(); ++r) {
        if (recipients[r].mailbox.empty()) group.push_back(r);
        if (group.size() < 12 && r + 1u < recipients.size()) continue;
        if (model.finish(spool, id, group) != SpoolStatus::ok) return;
        group.clear();
        // 24 of these are 43 KB: more than the 32 KB ring.
        for (int filler = 0; filler < 3; ++filler) {
          if (model.store(spool, to_remote, make_body(710 + 3 * r + filler, 1800)) != SpoolStatus::ok) return;
          if (model.finish(spool, model.live().back(), {0}) != SpoolStatus::ok) return;
        }
      }
      model.finish(spool, id, {97});  // bob's POP3 session
    }};

// The same hundred recipients, each onto flash as the SMTP session accepts it
// (docs/spool-format.md §3.6), with 40-octet addresses, relayed while reclaim
// copies the message (its recipient records, and its outcomes as records
// after the copy's commit).
std::vector<ModelRecipient> hundred_recipients_of(std::size_t address_bytes) {
  std::vector<ModelRecipient> recipients = hundred_recipients();
  for (std::size_t r = 0; r < recipients.size(); ++r) {
    if (!recipients[r].mailbox.empty()) continue;
    const std::string domain = "@far.example";
    std::string local = "r" + std::to_string(r) + "-";
    local.resize(address_bytes - domain.size(), 'x');
    recipients[r].address = local + domain;
  }
  return recipients;
}

const Scenario streamed_hundred_relayed{
    "a hundred streamed recipients relayed while reclaim copies them",
    [](Spool& spool, SpoolModel& model) {
      EXPECT_EQ(model.store(spool, hundred_recipients_of(40), make_body(720, 1500), true), SpoolStatus::ok);
    },
    hundred_recipients_relayed.run};

// A cut while the recipients are being written loses nothing acknowledged
// and never makes a half-written envelope deliverable: 100 recipients of 250
// octets (RFC 5321 §4.5.3.1.3's longest path less its brackets and some).
const Scenario streamed_hundred_long{"a hundred streamed 250-octet recipients", nothing,
                                     [](Spool& spool, SpoolModel& model) {
                                       model.store(spool, hundred_recipients_of(250), make_body(730, 2000), true);
                                     }};

// IMAP: STOREs by alice and bob on the messages they share, each synced
// before its tagged OK, and EXPUNGEs (\Deleted, then the deletion), while
// other mail makes the ring go round so that reclaim copies the messages with
// their latest state. No acknowledged state is lost and no expunged message
// comes back (docs/spool-format.md §9).
const Scenario imap_store_and_expunge{
    "IMAP STORE and EXPUNGE while reclaim copies",
    [](Spool& spool, SpoolModel& model) {
      for (int i = 0; i < 4; ++i) model.store(spool, i % 2 ? to_alice : to_alice_and_bob, make_body(800 + i, 900));
    },
    [](Spool& spool, SpoolModel& model) {
      constexpr std::array<std::uint8_t, 4> flags{MailboxState::seen, MailboxState::seen | MailboxState::flagged,
                                                  MailboxState::answered, 0};
      for (std::uint32_t round = 0; round < 24; ++round) {
        const std::vector<MessageId> live = model.live();
        const MessageId id = live[round % live.size()];
        const bool shared = model.messages().at(id).recipients == to_alice_and_bob;
        if (model.messages().at(id).done.count(0) == 0 &&
            model.set_flags(spool, id, "alice", flags[round % 4]) != SpoolStatus::ok) {
          return;
        }
        if (shared && model.set_flags(spool, id, "bob", flags[(round + 1) % 4]) != SpoolStatus::ok) return;
        if (round % 6 == 5) {
          // alice expunges her oldest message: \Deleted, then EXPUNGE.
          const MessageId oldest = live.front();
          if (model.messages().at(oldest).done.count(0) == 0) {
            if (model.set_flags(spool, oldest, "alice", MailboxState::deleted) != SpoolStatus::ok) return;
            if (model.finish(spool, oldest, {0}) != SpoolStatus::ok) return;
          }
          if (model.store(spool, to_alice_and_bob, make_body(820 + round, 900)) != SpoolStatus::ok) return;
        }
        if (model.store(spool, to_remote, make_body(840 + round, 1500)) != SpoolStatus::ok) return;
        if (model.finish(spool, model.live().back(), {0}) != SpoolStatus::ok) return;
      }
    }};

// An IMAP APPEND to Drafts: its flags and folder are in its begin, so a cut
// never shows it in INBOX (§3.7).
const Scenario imap_append_to_drafts{
    "IMAP APPEND to Drafts", nothing, [](Spool& spool, SpoolModel& model) {
      for (std::uint32_t i = 0; i < 3; ++i) {
        const MailboxState draft{MailboxState::draft | MailboxState::seen, MailboxState::drafts};
        if (model.store(spool, to_alice, make_body(860 + i, 2500), false, draft) != SpoolStatus::ok) return;
      }
    }};

// An IMAP MOVE to Trash, as ImapSession makes it (docs/imap.md): each
// message is written again into Trash with its flags, committed and synced,
// and only then removed from INBOX; other mail makes the ring go round. A cut
// anywhere leaves every message in INBOX, in Trash or in both, never lost.
const Scenario imap_move_to_trash{
    "IMAP MOVE to Trash",
    [](Spool& spool, SpoolModel& model) {
      for (int i = 0; i < 5; ++i) model.store(spool, to_alice, make_body(880 + i, 700 + 300 * i));
    },
    [](Spool& spool, SpoolModel& model) {
      const std::vector<MessageId> inbox = model.live();
      for (std::uint32_t i = 0; i < inbox.size(); ++i) {
        const std::string body = model.messages().at(inbox[i]).body;
        const MailboxState in_trash{MailboxState::seen, MailboxState::trash};
        if (model.store(spool, to_alice, body, false, in_trash) != SpoolStatus::ok) return;
        if (model.finish(spool, inbox[i], {0}) != SpoolStatus::ok) return;
        if (model.store(spool, to_remote, make_body(890 + i, 1800)) != SpoolStatus::ok) return;
        if (model.finish(spool, model.live().back(), {0}) != SpoolStatus::ok) return;
      }
    }};

TEST(SpoolPowerLoss, ImapMoveToTrash) {
  report_and_expect_none(imap_move_to_trash, cut_everywhere(imap_move_to_trash, small_flash));
}

TEST(SpoolPowerLoss, ImapStoreAndExpungeWhileReclaimCopies) {
  for (const hal::FlashGeometry geometry : {small_flash, hal::FlashGeometry{4096, 8, 1}}) {
    report_and_expect_none(imap_store_and_expunge, cut_everywhere(imap_store_and_expunge, geometry));
  }
}

TEST(SpoolPowerLoss, ImapAppendToDrafts) {
  report_and_expect_none(imap_append_to_drafts, cut_everywhere(imap_append_to_drafts, small_flash));
}

TEST(SpoolPowerLoss, StreamedHundredRecipientsRelayedWhileReclaimCopiesThem) {
  report_and_expect_none(streamed_hundred_relayed, cut_everywhere(streamed_hundred_relayed, small_flash));
}

TEST(SpoolPowerLoss, StreamedHundredLongRecipients) {
  report_and_expect_none(streamed_hundred_long, cut_everywhere(streamed_hundred_long, hal::FlashGeometry{4096, 16, 16}));
}

TEST(SpoolPowerLoss, AcceptOneMessage) {
  for (const hal::FlashGeometry geometry : {small_flash, hal::FlashGeometry{4096, 8, 1}, hal::FlashGeometry{8192, 6, 256}}) {
    report_and_expect_none(accept_one, cut_everywhere(accept_one, geometry));
  }
}

TEST(SpoolPowerLoss, HundredRecipientsRelayedWhileReclaimCopiesThem) {
  report_and_expect_none(hundred_recipients_relayed, cut_everywhere(hundred_recipients_relayed, small_flash));
}

TEST(SpoolPowerLoss, OpenMessageAbortedByReclaim) {
  report_and_expect_none(open_message_aborted, cut_everywhere(open_message_aborted, small_flash));
}

TEST(SpoolPowerLoss, AlertCommit) { report_and_expect_none(alert_commit, cut_everywhere(alert_commit, small_flash)); }

TEST(SpoolPowerLoss, AcceptManyUntilFull) {
  report_and_expect_none(accept_until_full, cut_everywhere(accept_until_full, small_flash));
}

TEST(SpoolPowerLoss, RelayOutcomeRecorded) {
  report_and_expect_none(relay_outcomes, cut_everywhere(relay_outcomes, small_flash));
}

TEST(SpoolPowerLoss, Pop3DeleAndQuit) {
  report_and_expect_none(pop3_dele_quit, cut_everywhere(pop3_dele_quit, small_flash));
}

TEST(SpoolPowerLoss, ReclaimWhileNewMailArrives) {
  for (const hal::FlashGeometry geometry : {small_flash, hal::FlashGeometry{4096, 8, 256}}) {
    report_and_expect_none(reclaim_while_mail_arrives, cut_everywhere(reclaim_while_mail_arrives, geometry));
  }
}

// A first cut anywhere in the reclaim scenario, then a second cut at every
// operation of recovery and the work that follows it (new mail, a delivery).
TEST(SpoolPowerLoss, RelayedMailKeptForItsMailboxWhileReclaimCopiesIt) {
  // Without a cut, reclaim copies the three kept messages on the way.
  SimulatedChip chip(small_flash);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  SpoolModel model;
  relayed_kept_for_mailbox.setup(*spool, model);
  relayed_kept_for_mailbox.run(*spool, model);
  EXPECT_GE(spool->reclaim_counters().messages_copied, 3u);
  EXPECT_TRUE(model.check(*spool).empty());
  report_and_expect_none(relayed_kept_for_mailbox, cut_everywhere(relayed_kept_for_mailbox, small_flash));
}

TEST(SpoolPowerLoss, RecoveryInterruptedBySecondCut) {
  const Scenario after_recovery{"recovery, then second cut", nothing, [](Spool& spool, SpoolModel& model) {
                                  finish_oldest(spool, model, 1);
                                  model.store(spool, to_alice_and_remote, make_body(900, 2500));
                                  model.store(spool, to_remote, make_body(901, 600));
                                }};
  CutReport first = cut_everywhere(reclaim_while_mail_arrives, small_flash);
  ASSERT_TRUE(first.violations.empty());
  const std::uint64_t first_stride = full_run() ? 1 : std::max<std::uint64_t>(1, first.operations / 16);
  CutReport report;
  for (std::uint64_t first_cut = 0; first_cut < first.operations; first_cut += first_stride) {
    // Count the operations of the second phase once for this first cut.
    auto prepare = [&](SimulatedChip& chip, SpoolModel& model) {
      auto spool = make_spool(chip.flash());
      EXPECT_EQ(spool->mount(), SpoolStatus::ok);
      reclaim_while_mail_arrives.setup(*spool, model);
      chip.flash().cut_power_after(first_cut, true, static_cast<std::uint32_t>(first_cut));
      reclaim_while_mail_arrives.run(*spool, model);
      chip.flash().restore_power();
    };
    std::uint64_t second_operations = 0;
    {
      SimulatedChip chip(small_flash);
      SpoolModel model;
      prepare(chip, model);
      const std::uint64_t before = chip.flash().operations();
      auto spool = make_spool(chip.flash());
      EXPECT_EQ(spool->mount(), SpoolStatus::ok);
      after_recovery.run(*spool, model);
      second_operations = chip.flash().operations() - before;
    }
    report.operations += second_operations;
    for (std::uint64_t second_cut = 0; second_cut < second_operations; ++second_cut) {
      SimulatedChip chip(small_flash);
      SpoolModel model;
      prepare(chip, model);
      chip.flash().cut_power_after(second_cut, true, static_cast<std::uint32_t>(second_cut + 7919));
      auto spool = make_spool(chip.flash());
      if (spool->mount() == SpoolStatus::ok) after_recovery.run(*spool, model);
      spool.reset();
      recover_and_check(chip, model,
                        "first cut " + std::to_string(first_cut) + ", second cut " + std::to_string(second_cut), report);
      ++report.tried;
    }
  }
  report_and_expect_none(after_recovery, report);
}

// Bits flipped anywhere in a used image: whatever the spool still offers is
// exactly what was stored.
TEST(SpoolPowerLoss, FlippedBitsAreNeverDelivered) {
  for (std::uint32_t trial = 0; trial < 200; ++trial) {
    SimulatedChip chip(small_flash);
    SpoolModel model;
    auto spool = make_spool(chip.flash());
    ASSERT_EQ(spool->mount(), SpoolStatus::ok);
    store_many(*spool, model, 8, trial * 31);
    const std::uint32_t address = (trial * 2654435761u) % (small_flash.total_bytes() / 2);
    chip.flash().flip_bit(address, static_cast<std::uint8_t>(trial % 8));
    spool = make_spool(chip.flash());
    ASSERT_EQ(spool->mount(), SpoolStatus::ok);
    for (const std::string& problem : model.check(*spool)) {
      // Loss is allowed after corruption; wrong content and strangers are not.
      EXPECT_EQ(problem.find("wrong"), std::string::npos) << problem;
      EXPECT_EQ(problem.find("unknown"), std::string::npos) << problem;
      EXPECT_EQ(problem.find("came back"), std::string::npos) << problem;
    }
  }
}

}  // namespace
}  // namespace pigeon::testing
