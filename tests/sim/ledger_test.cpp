// The simulator's invariants (tools/sim/ledger): each violation is caught, and
// the allowed cases (an explained duplicate, a delivery whose reply was lost)
// are counted, not flagged.
#include <gtest/gtest.h>

#include <cstdio>

#include "tools/sim/allocation_guard.hpp"
#include "tools/sim/ledger.hpp"
#include "tools/sim/scenario.hpp"
#include "tools/sim/world.hpp"

namespace pigeon::sim {
namespace {

TEST(Ledger, AcknowledgedAndDeliveredOnceIsClean) {
  Ledger ledger;
  const auto id = ledger.submit(false, 0);
  ledger.answer(id, Answer::acknowledged, 10);
  EXPECT_EQ(ledger.outstanding(), 1u);
  ledger.came_out(id, Outlet::smarthost, 250);
  EXPECT_EQ(ledger.outstanding(), 0u);
  ledger.final_check();
  EXPECT_FALSE(ledger.violated());
  EXPECT_EQ(ledger.latencies_ms(), std::vector<std::uint64_t>{240});
}

TEST(Ledger, AcknowledgedButNeverDeliveredIsLost) {
  Ledger ledger;
  ledger.answer(ledger.submit(false, 0), Answer::acknowledged, 10);
  ledger.final_check();
  EXPECT_TRUE(ledger.violated());
  EXPECT_EQ(ledger.totals().lost, 1u);
}

TEST(Ledger, ARefusedMessageMustNeverComeOut) {
  Ledger ledger;
  const auto id = ledger.submit(false, 0);
  ledger.answer(id, Answer::refused, 10);
  ledger.came_out(id, Outlet::smarthost, 20);
  EXPECT_TRUE(ledger.violated());
}

TEST(Ledger, AnUnknownMessageMayComeOutAndIsCounted) {
  Ledger ledger;
  const auto id = ledger.submit(false, 0);
  ledger.answer(id, Answer::unknown, 10);
  ledger.came_out(id, Outlet::smarthost, 20);
  ledger.final_check();
  EXPECT_FALSE(ledger.violated());
  EXPECT_EQ(ledger.totals().delivered_unacknowledged, 1u);
}

TEST(Ledger, ADuplicateNeedsACause) {
  Ledger unexplained;
  const auto id = unexplained.submit(false, 0);
  unexplained.answer(id, Answer::acknowledged, 1);
  unexplained.came_out(id, Outlet::smarthost, 2);
  unexplained.came_out(id, Outlet::smarthost, 3);
  EXPECT_TRUE(unexplained.violated());

  Ledger cut;
  const auto first = cut.submit(false, 0);
  cut.answer(first, Answer::acknowledged, 1);
  cut.came_out(first, Outlet::smarthost, 2);
  cut.relay_power_cut(3);
  cut.came_out(first, Outlet::smarthost, 4);
  EXPECT_FALSE(cut.violated());
  EXPECT_EQ(cut.totals().duplicates_power_cut, 1u);

  Ledger lost_reply;
  const auto second = lost_reply.submit(false, 0);
  lost_reply.answer(second, Answer::acknowledged, 1);
  lost_reply.came_out(second, Outlet::smarthost, 2);
  lost_reply.reply_at_risk(second);
  lost_reply.came_out(second, Outlet::smarthost, 4);
  EXPECT_FALSE(lost_reply.violated());
  EXPECT_EQ(lost_reply.totals().duplicates_reply_lost, 1u);
  lost_reply.came_out(second, Outlet::smarthost, 5);  // the cause explains one copy only
  EXPECT_TRUE(lost_reply.violated());
}

TEST(Ledger, APowerCutLongAfterTheCopyExplainsNothing) {
  Ledger ledger;
  const auto id = ledger.submit(false, 0);
  ledger.answer(id, Answer::acknowledged, 1);
  ledger.came_out(id, Outlet::smarthost, 1'000);
  ledger.relay_power_cut(1'000 + Ledger::outcome_window_ms + 1);
  ledger.came_out(id, Outlet::smarthost, 200'000);
  EXPECT_TRUE(ledger.violated());
}

// long-outage seed 5: with the spool full the relay settles an outcome
// without its record, and a power cut minutes later sends the message again.
TEST(Ledger, APowerCutAfterAnUnrecordedOutcomeExplainsOneCopy) {
  Ledger ledger;
  const auto first = ledger.submit(false, 0), second = ledger.submit(false, 0);
  ledger.answer(first, Answer::acknowledged, 1);
  ledger.answer(second, Answer::acknowledged, 1);
  ledger.came_out(first, Outlet::smarthost, 1'000);
  ledger.came_out(second, Outlet::smarthost, 2'000);
  ledger.outcomes_unrecorded(1);  // the latest copy: `second`
  ledger.relay_power_cut(2'000 + 10 * Ledger::outcome_window_ms);
  ledger.came_out(second, Outlet::smarthost, 900'000);
  EXPECT_FALSE(ledger.violated()) << ledger.violation();
  EXPECT_EQ(ledger.totals().duplicates_unrecorded, 1u);
  ledger.came_out(first, Outlet::smarthost, 900'000);  // its outcome was recorded
  EXPECT_TRUE(ledger.violated());
}

TEST(Ledger, ADeletedMessageMustNotReappear) {
  Ledger ledger;
  const auto id = ledger.submit(false, 0);
  ledger.answer(id, Answer::acknowledged, 1);
  ledger.seen_in_mailbox(id);
  ledger.came_out(id, Outlet::mailbox, 2);
  ledger.seen_in_mailbox(id);  // seen again before any deletion committed: fine
  EXPECT_FALSE(ledger.violated());
  ledger.deletion_committed(id);
  ledger.seen_in_mailbox(id);
  EXPECT_TRUE(ledger.violated());
}

TEST(Ledger, AMessageNobodySentIsAViolation) {
  Ledger ledger;
  ledger.came_out(7, Outlet::smarthost, 1);
  EXPECT_TRUE(ledger.violated());
}

TEST(Scenario, ParsesEveryKindOfSection) {
  std::string error;
  const auto scenario = parse_scenario(R"(
[world]
name = t
duration = 2h   # comment
faults_until = 90m
[smarthost isp]
address = 10.0.0.1
mode = greylist 10m 20m
[relay r]
address = 10.0.0.2
smarthost = isp
flash = 32 x 4096
config = local_domains = x.example
[devices d]
count = 3
first_address = 10.0.1.1
relay = r
interval = 5m
tls = implicit
auth = sensor secret
[reader p]
address = 10.0.2.1
relay = r
tls = starttls
[alerts a]
relay = r
keys = 2
[faults]
cut = r isp count=3 for=1m..5m
power = r torn at=30m
clock = r at=1h jump=-2h
)",
                                        error);
  ASSERT_TRUE(scenario) << error;
  EXPECT_EQ(scenario->duration_ms, 7'200'000u);
  EXPECT_EQ(scenario->faults_until_ms, 5'400'000u);
  EXPECT_EQ(scenario->smarthosts[0].settings.schedule[0].mode, SmarthostMode::greylist);
  EXPECT_EQ(scenario->relays[0].settings.flash.sector_count, 32u);
  EXPECT_EQ(scenario->devices[0].count, 3u);
  EXPECT_EQ(scenario->devices[0].settings.tls.mode, ClientTls::implicit);
  EXPECT_EQ(scenario->devices[0].settings.user, "sensor");
  EXPECT_EQ(scenario->devices[0].settings.password, "secret");
  EXPECT_EQ(scenario->readers[0].settings.tls.mode, ClientTls::starttls);
  EXPECT_EQ(scenario->cuts[0].count, 3u);
  EXPECT_EQ(scenario->cuts[0].max_ms, 300'000u);
  EXPECT_EQ(*scenario->power_cuts[0].torn, true);
  EXPECT_EQ(scenario->clock_jumps[0].seconds, -7200);
}

TEST(Scenario, ErrorsNameTheLine) {
  std::string error;
  EXPECT_FALSE(parse_scenario("[world]\nduration = soon\n", error));
  EXPECT_EQ(error, "line 2: 'soon' is not a duration (90s, 15m, 2h, 1d)");
  EXPECT_FALSE(parse_scenario("[relay]\n", error));
  EXPECT_EQ(error, "line 1: [relay] needs a name");
  EXPECT_FALSE(parse_scenario("[smarthost s]\nmode = sulk 1h 2h\n", error));
  EXPECT_EQ(error, "line 2: mode = accept|greylist|refuse|hang|drop|lose_reply|bad_cert FROM UNTIL");
  EXPECT_FALSE(parse_scenario("[faults]\nflood = x\n", error));
  EXPECT_EQ(error, "line 2: unknown fault 'flood' (cut, power, clock)");
}

// A small world around one relay whose [faults] section is `faults`: three
// devices each sending every minute, so the flash is busy until `faults_until`.
RunResult run_power_cuts(const std::string& boot, const std::string& faults) {
  std::string error;
  const auto scenario = parse_scenario(R"(
[world]
duration = 3h
faults_until = 2h
[smarthost isp]
address = 10.0.0.1
[relay r]
address = 10.0.0.2
smarthost = isp
boot = )" + boot + R"(
config = host_name = r.example
config = local_domains = r.example
config = relay_networks = 10.0.1.0/24
[devices d]
count = 3
first_address = 10.0.1.1
relay = r
from = d@r.example
to = x@example.net
interval = 1m
[faults]
)" + faults,
                                       error);
  EXPECT_TRUE(scenario) << error;
  return scenario ? run_world(*scenario, RunOptions{}) : RunResult{};
}

// The run is clean and every scheduled cut ended as expected.
void expect_power_cuts(const RunResult& result, std::uint64_t scheduled, std::uint64_t fired,
                       std::uint64_t skipped_down, std::uint64_t unfired) {
  EXPECT_TRUE(result.ok) << result.violation;
  EXPECT_EQ(result.power_cuts_scheduled, scheduled);
  EXPECT_EQ(result.power_cuts_fired, fired);
  EXPECT_EQ(result.power_cuts_skipped_down, skipped_down);
  EXPECT_EQ(result.power_cuts_unfired, unfired);
}

TEST(PowerCuts, CutsScheduledTogetherAllFireOneAfterTheOther) {
  expect_power_cuts(run_power_cuts("1m", "power = r count=3 at=30m\n"), 3, 3, 0, 0);
}

TEST(PowerCuts, ACutWhileTheRelayIsDownIsSkippedAndCounted) {
  // The first cut fires within minutes; the relay is down for an hour.
  const RunResult result = run_power_cuts("1h", "power = r at=10m\npower = r at=50m\n");
  expect_power_cuts(result, 2, 1, 1, 0);
  EXPECT_NE(result.summary.find("skipped while down 1"), std::string::npos) << result.summary;
}

TEST(PowerCuts, ACutStillWaitingWhenTheFaultsEndIsCountedUnfired) {
  // The second cut waits for the relay to come back from the first, which
  // takes longer than the faults last.
  expect_power_cuts(run_power_cuts("2h", "power = r count=2 at=10m\n"), 2, 1, 0, 1);
}

TEST(AllocationGuard, CountsOnlyWhileTheRelaysCodeRuns) {
  // Calls of operator new itself: a new-expression's allocation may be elided.
  const RelayAllocations before = relay_allocations();
  ::operator delete(::operator new(16));
  EXPECT_EQ(relay_allocations().count, before.count);
  {
    const RelayCode relay_code;
    ::operator delete(::operator new(100));
  }
  EXPECT_EQ(relay_allocations().count, before.count + 1);
}

// A relay with clients over every kind of TLS: STARTTLS and 465 with AUTH,
// POP3 with STLS and POP3S. `password` is the devices' password; new mail
// stops at `mail_until`, the run ends ten minutes later.
RunResult run_tls_clients(const std::string& password, const std::string& mail_until, const std::string& duration) {
  std::string error;
  const auto scenario = parse_scenario(R"(
[world]
name = tls-clients
duration = )" + duration + R"(
faults_until = )" + mail_until + R"(
drain_limit = 10m
[smarthost isp]
address = 10.0.0.1
tls = starttls
[relay r]
address = 10.0.0.2
smarthost = isp
user = sensor right-password
user = user phone-password
config = local_domains = r.example
[devices submission]
count = 2
first_address = 10.0.1.1
relay = r
tls = starttls
auth = sensor )" + password + R"(
from = d@r.example
to = user@r.example
interval = 5m
[devices submissions]
count = 2
first_address = 10.0.1.11
relay = r
tls = implicit
auth = sensor )" + password + R"(
from = d@r.example
to = x@example.net
interval = 5m
[reader stls]
address = 10.0.2.1
relay = r
tls = starttls
user = user
password = phone-password
interval = 10m
[reader pop3s]
address = 10.0.2.2
relay = r
tls = implicit
user = user
password = phone-password
interval = 10m
)",
                                       error);
  EXPECT_TRUE(scenario) << error;
  return scenario ? run_world(*scenario, RunOptions{}) : RunResult{};
}

TEST(ClientTls, DevicesAndReadersOverEveryKindOfTlsResume) {
  const RunResult result = run_tls_clients("right-password", "50m", "1h");
  ASSERT_TRUE(result.ok) << result.violation << "\n" << result.summary;
  // Sessions resume: most handshakes are short ones; none failed.
  EXPECT_NE(result.summary.find("failed 0; reader handshakes"), std::string::npos) << result.summary;
  // The readers' sessions over STLS and POP3S commit their deletions.
  EXPECT_EQ(result.summary.find("POP3 deletions committed 0"), std::string::npos) << result.summary;
  unsigned handshakes = 0, resumed = 0;
  const std::size_t at = result.summary.find("device handshakes ");
  ASSERT_EQ(std::sscanf(result.summary.c_str() + at, "device handshakes %u, resumed %u", &handshakes, &resumed), 2);
  EXPECT_GT(handshakes, 20u);
  EXPECT_GE(resumed, handshakes - 4);  // each of the four devices' first is full
}

TEST(ClientTls, AWrongPasswordKeepsTheMailOut) {
  const RunResult result = run_tls_clients("wrong-password", "10m", "20m");
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.violation.find("refuses new mail"), std::string::npos) << result.violation;
  EXPECT_NE(result.summary.find("acknowledged 0"), std::string::npos) << result.summary;
}

// More clients than the relay's TLS sessions (tls_sessions = 2, slow links so
// that handshakes overlap): the relay turns the others away, they retry, and
// every message is delivered.
TEST(ClientTls, ClientsTurnedAwayWhenTlsSessionsRunOutRetryAndDeliver) {
  std::string error;
  const auto scenario = parse_scenario(R"(
[world]
name = tls-limit
duration = 1h
faults_until = 40m
[smarthost isp]
address = 10.0.0.1
[relay r]
address = 10.0.0.2
smarthost = isp
user = sensor pw
config = tls_sessions = 2
[devices d]
count = 12
first_address = 10.0.1.1
link = latency=300ms jitter=100ms
relay = r
tls = implicit
auth = sensor pw
from = d@r.example
to = x@example.net
interval = 20s
)",
                                       error);
  ASSERT_TRUE(scenario) << error;
  const RunResult result = run_world(*scenario, RunOptions{});
  ASSERT_TRUE(result.ok) << result.violation << "\n" << result.summary;
  unsigned handshakes = 0, resumed = 0, failed = 0;
  const std::size_t at = result.summary.find("device handshakes ");
  ASSERT_EQ(std::sscanf(result.summary.c_str() + at, "device handshakes %u, resumed %u, failed %u", &handshakes,
                        &resumed, &failed),
            3);
  EXPECT_GT(failed, 50u) << result.summary;  // turned away: the relay had no TLS session free
  EXPECT_GT(handshakes, 300u) << result.summary;
}

// A program beside the relay raises alerts through its alert endpoint; what
// the endpoint answered sent is acknowledged and must come out.
TEST(AlertEndpoint, AlertsThroughTheEndpointAreAcknowledgedAndDelivered) {
  std::string error;
  const auto scenario = parse_scenario(R"(
[world]
name = endpoint
duration = 2h
faults_until = 90m
[smarthost isp]
address = 10.0.0.1
[relay r]
address = 10.0.0.2
smarthost = isp
config = alert_window_s = 60
[alerts watchdog]
relay = r
via = endpoint
address = 10.0.0.3
to = ops@example.net
keys = 2
interval = 2m
[faults]
power = r at=30m
)",
                                       error);
  ASSERT_TRUE(scenario) << error;
  const RunResult result = run_world(*scenario, RunOptions{});
  ASSERT_TRUE(result.ok) << result.violation << "\n" << result.summary;
  unsigned sent = 0, coalesced = 0;
  const std::size_t at = result.summary.find("endpoint: sent ");
  ASSERT_NE(at, std::string::npos) << result.summary;
  ASSERT_EQ(std::sscanf(result.summary.c_str() + at, "endpoint: sent %u, coalesced or rate-limited %u", &sent,
                        &coalesced),
            2);
  // Each key every 4 minutes, past its 60 s window: 45 alerts, nearly all
  // sent (one may meet the power cut).
  EXPECT_GE(sent, 43u);
  EXPECT_EQ(coalesced, 0u);
  EXPECT_NE(result.summary.find("acknowledged " + std::to_string(sent)), std::string::npos) << result.summary;
}

}  // namespace
}  // namespace pigeon::sim
