// The simulated network of hal/sim: order, latency, the window, cuts, resets,
// refused ports, wake-up times, and the same flights for the same seed.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "hal/sim/sim_clock.hpp"
#include "hal/sim/sim_entropy.hpp"
#include "hal/sim/sim_log.hpp"
#include "hal/sim/sim_network.hpp"
#include "hal/sim/sim_random.hpp"

namespace pigeon::hal {
namespace {

IpAddress v4(std::uint8_t last) {
  IpAddress address;
  address.bytes[0] = 10;
  address.bytes[3] = last;
  return address;
}

struct TwoHosts {
  explicit TwoHosts(SimLink link = {5, 0, 0, 0, 200}, std::uint64_t seed = 1)
      : network(std::make_unique<SimNetwork>(time, seed)) {
    EXPECT_TRUE(network->add_host(v4(1), link, client_host));
    EXPECT_TRUE(network->add_host(v4(2), link, server_host));
  }

  std::uint64_t due(SimHostId host) const {
    std::vector<std::uint64_t> due_ms(SimNetwork::max_hosts, SimNetwork::never);
    network->lower_due_times(due_ms);
    return due_ms[host];
  }

  // Listens on the server, connects and accepts; both ends ready.
  void open(StreamId& client, StreamId& server) {
    ListenerId listener = invalid_id;
    ASSERT_EQ(server_net.listen({{}, 25}, listener), NetStatus::ok);
    ASSERT_EQ(client_net.connect({v4(2), 25}, client), NetStatus::ok);
    EXPECT_FALSE(client_net.connected(client));
    Endpoint peer;
    EXPECT_EQ(server_net.accept(listener, server, peer), NetStatus::would_block);
    EXPECT_EQ(due(server_host), 10u);  // one way: both links' latency
    time.advance_to(10);
    ASSERT_EQ(server_net.accept(listener, server, peer), NetStatus::ok);
    EXPECT_EQ(peer.address.bytes[3], 1);
    EXPECT_EQ(due(client_host), 20u);
    time.advance_to(20);
    EXPECT_TRUE(client_net.connected(client));
  }

  std::string read_all(SimNet& net, StreamId stream) {
    std::string text;
    std::uint8_t buffer[4096];
    for (;;) {
      const IoResult result = net.receive(stream, buffer);
      if (result.status != NetStatus::ok || result.bytes == 0) break;
      text.append(reinterpret_cast<const char*>(buffer), result.bytes);
    }
    return text;
  }

  static std::span<const std::uint8_t> bytes(std::string_view text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
  }

  SimTime time;
  std::unique_ptr<SimNetwork> network;
  SimHostId client_host = 0, server_host = 0;
  SimNet client_net{*network, 0};
  SimNet server_net{*network, 1};
};

TEST(SimNetwork, BytesArriveInOrderAfterTheLatency) {
  TwoHosts hosts;
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  EXPECT_EQ(hosts.client_net.send(client, TwoHosts::bytes("EHLO a\r\n")).bytes, 8u);
  EXPECT_EQ(hosts.client_net.send(client, TwoHosts::bytes("NOOP\r\n")).bytes, 6u);
  EXPECT_EQ(hosts.read_all(hosts.server_net, server), "");
  EXPECT_EQ(hosts.due(hosts.server_host), 30u);
  hosts.time.advance_to(30);
  EXPECT_EQ(hosts.read_all(hosts.server_net, server), "EHLO a\r\nNOOP\r\n");
  EXPECT_EQ(hosts.due(hosts.server_host), SimNetwork::never);
}

TEST(SimNetwork, AFullWindowStopsTheSenderUntilThePeerReads) {
  TwoHosts hosts;
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  const std::string block(SimNetwork::window_bytes + 100, 'x');
  EXPECT_EQ(hosts.client_net.send(client, TwoHosts::bytes(block)).bytes, SimNetwork::window_bytes);
  EXPECT_EQ(hosts.client_net.send(client, TwoHosts::bytes("y")).status, NetStatus::would_block);
  hosts.time.advance_to(100);
  std::uint8_t some[1000];
  EXPECT_EQ(hosts.server_net.receive(server, some).bytes, 1000u);
  EXPECT_EQ(hosts.due(hosts.client_host), 100u);  // it waits for room: room came
  EXPECT_EQ(hosts.client_net.send(client, TwoHosts::bytes(block)).bytes, 1000u);
}

TEST(SimNetwork, NotReadingMeansNoWakeUp) {
  TwoHosts hosts;
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  hosts.client_net.send(client, TwoHosts::bytes("data"));
  hosts.server_net.set_receive_interest(server, false);
  EXPECT_EQ(hosts.due(hosts.server_host), SimNetwork::never);
  hosts.server_net.set_receive_interest(server, true);
  EXPECT_EQ(hosts.due(hosts.server_host), 30u);
}

TEST(SimNetwork, CloseIsSeenAfterTheLastBytes) {
  TwoHosts hosts;
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  hosts.client_net.send(client, TwoHosts::bytes("QUIT\r\n"));
  hosts.client_net.close(client);
  hosts.time.advance_to(30);
  EXPECT_EQ(hosts.read_all(hosts.server_net, server), "QUIT\r\n");
  std::uint8_t byte[1];
  EXPECT_EQ(hosts.server_net.receive(server, byte).status, NetStatus::closed);
  hosts.server_net.close(server);
  EXPECT_EQ(hosts.network->open_streams(hosts.server_host), 0u);
  EXPECT_EQ(hosts.network->open_streams(hosts.client_host), 0u);
}

TEST(SimNetwork, APortNobodyListensOnRefuses) {
  TwoHosts hosts;
  StreamId client = invalid_id;
  ASSERT_EQ(hosts.client_net.connect({v4(2), 587}, client), NetStatus::ok);
  EXPECT_EQ(hosts.due(hosts.client_host), 20u);
  hosts.time.advance_to(20);
  std::uint8_t byte[1];
  EXPECT_EQ(hosts.client_net.receive(client, byte).status, NetStatus::refused);
  EXPECT_FALSE(hosts.client_net.connected(client));
  EXPECT_EQ(hosts.network->counters().refused, 1u);
}

// A loopback listener is reached through a loopback address from a host on
// its machine, and by nobody else; the host's own address does not reach it.
TEST(SimNetwork, ALoopbackListenerServesOnlyItsMachine) {
  TwoHosts hosts;
  SimHostId beside_host = 0;
  ASSERT_TRUE(hosts.network->add_host(v4(3), {5, 0, 0, 0, 200}, beside_host));
  SimNet beside_net{*hosts.network, beside_host};
  hosts.network->share_machine(beside_host, hosts.server_host);
  IpAddress loopback;
  loopback.bytes[0] = 127;
  loopback.bytes[3] = 1;
  ListenerId listener = invalid_id;
  ASSERT_EQ(hosts.server_net.listen({loopback, 2600}, listener), NetStatus::ok);
  StreamId from_beside = invalid_id, from_client = invalid_id, to_address = invalid_id;
  ASSERT_EQ(beside_net.connect({loopback, 2600}, from_beside), NetStatus::ok);
  ASSERT_EQ(hosts.client_net.connect({loopback, 2600}, from_client), NetStatus::ok);
  ASSERT_EQ(beside_net.connect({v4(2), 2600}, to_address), NetStatus::ok);
  hosts.time.advance_to(100);
  EXPECT_TRUE(beside_net.connected(from_beside));
  std::uint8_t byte[1];
  EXPECT_EQ(hosts.client_net.receive(from_client, byte).status, NetStatus::refused);  // its own machine has none
  EXPECT_EQ(beside_net.receive(to_address, byte).status, NetStatus::refused);
  StreamId accepted = invalid_id;
  Endpoint peer;
  EXPECT_EQ(hosts.server_net.accept(listener, accepted, peer), NetStatus::ok);
  EXPECT_EQ(hosts.server_net.accept(listener, accepted, peer), NetStatus::would_block);
}

TEST(SimNetwork, AShortCutHoldsFlightsUntilItHeals) {
  TwoHosts hosts;
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  hosts.client_net.send(client, TwoHosts::bytes("before"));
  hosts.network->cut(hosts.client_host, hosts.server_host, 5'000);
  hosts.client_net.send(client, TwoHosts::bytes(" during"));
  EXPECT_EQ(hosts.due(hosts.server_host), 5'010u);
  hosts.time.advance_to(5'010);
  EXPECT_EQ(hosts.read_all(hosts.server_net, server), "before during");
}

TEST(SimNetwork, ALongCutResetsTheStreamsAcrossIt) {
  TwoHosts hosts;
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  hosts.network->set_reset_after_ms(1'000);
  hosts.network->cut(hosts.client_host, hosts.server_host, 60'000);
  hosts.time.advance_to(1'020);
  std::uint8_t byte[1];
  EXPECT_EQ(hosts.client_net.receive(client, byte).status, NetStatus::closed);
  EXPECT_EQ(hosts.server_net.receive(server, byte).status, NetStatus::closed);
  StreamId again = invalid_id;  // a connect across the cut times out
  ASSERT_EQ(hosts.client_net.connect({v4(2), 25}, again), NetStatus::ok);
  hosts.time.advance_to(2'020);
  EXPECT_EQ(hosts.client_net.receive(again, byte).status, NetStatus::refused);
}

TEST(SimNetwork, AHostGoingDownResetsItsPeersAndForgetsItsListeners) {
  TwoHosts hosts;
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  hosts.network->host_down(hosts.server_host);
  EXPECT_EQ(hosts.network->open_streams(hosts.server_host), 0u);
  hosts.time.advance_to(30);
  std::uint8_t byte[1];
  EXPECT_EQ(hosts.client_net.receive(client, byte).status, NetStatus::closed);
  StreamId again = invalid_id;
  ASSERT_EQ(hosts.client_net.connect({v4(2), 25}, again), NetStatus::ok);
  hosts.time.advance_to(60);
  EXPECT_EQ(hosts.client_net.receive(again, byte).status, NetStatus::refused);
}

TEST(SimNetwork, ADownHostReachesNobodyUntilItIsUp) {
  TwoHosts hosts;
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  hosts.network->host_down(hosts.server_host);
  // What the relay's code still does in the round of its power cut stays on the board.
  EXPECT_EQ(hosts.server_net.send(server, TwoHosts::bytes("451 too late\r\n")).status, NetStatus::closed);
  StreamId out = invalid_id;
  EXPECT_EQ(hosts.server_net.connect({v4(1), 25}, out), NetStatus::no_resources);
  ListenerId listener = invalid_id;
  EXPECT_EQ(hosts.server_net.listen({{}, 25}, listener), NetStatus::no_resources);
  hosts.time.advance_to(100);
  EXPECT_EQ(hosts.read_all(hosts.client_net, client), "");
  hosts.network->host_up(hosts.server_host);
  EXPECT_EQ(hosts.server_net.listen({{}, 25}, listener), NetStatus::ok);
}

TEST(SimNetwork, OverlappingCutsOfOnePairJoin) {
  TwoHosts hosts;
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  hosts.network->set_reset_after_ms(1'000'000);
  hosts.network->cut(hosts.client_host, hosts.server_host, 50'000);
  hosts.network->cut(hosts.client_host, hosts.server_host, 30'000);  // shorter, inside the first
  hosts.client_net.send(client, TwoHosts::bytes("x"));
  EXPECT_EQ(hosts.due(hosts.server_host), 50'010u);
}

TEST(SimNetwork, BandwidthSpreadsALargeSendOverTime) {
  TwoHosts hosts({5, 0, 100, 0, 200});  // 100 bytes per ms
  StreamId client = invalid_id, server = invalid_id;
  hosts.open(client, server);
  const std::string block(10'000, 'b');
  hosts.client_net.send(client, TwoHosts::bytes(block));
  EXPECT_EQ(hosts.due(hosts.server_host), 20u + 100u + 10u);
}

// The jitter and the stalls come from the seed: the same seed, the same times.
std::vector<std::uint64_t> arrival_times(std::uint64_t seed) {
  TwoHosts hosts({5, 20, 0, 300'000, 500}, seed);
  StreamId client = invalid_id, server = invalid_id;
  ListenerId listener = invalid_id;
  hosts.server_net.listen({{}, 25}, listener);
  hosts.client_net.connect({v4(2), 25}, client);
  hosts.time.advance_to(1'000);
  Endpoint peer;
  hosts.server_net.accept(listener, server, peer);
  std::vector<std::uint64_t> times;
  for (int i = 0; i < 20; ++i) {
    hosts.client_net.send(client, TwoHosts::bytes("x"));
    times.push_back(hosts.due(hosts.server_host));
    hosts.time.advance_to(times.back());
    hosts.read_all(hosts.server_net, server);
  }
  return times;
}

TEST(SimNetwork, TheSameSeedGivesTheSameArrivals) {
  EXPECT_EQ(arrival_times(7), arrival_times(7));
  EXPECT_NE(arrival_times(7), arrival_times(8));
}

TEST(SimRandom, KnownSequenceAndBounds) {
  SimRandom a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b.next());
  SimRandom c(1);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_LT(c.below(10), 10u);
    const std::uint64_t value = c.between(5, 7);
    EXPECT_GE(value, 5u);
    EXPECT_LE(value, 7u);
  }
  EXPECT_EQ(c.below(0), 0u);
}

TEST(SimClock, MonotonicRestartsAtBootWallClockJumps) {
  SimTime time;
  SimClock clock(time, 1'700'000'000);
  time.advance_to(90'500);
  EXPECT_EQ(clock.monotonic_ms(), 91'500u);
  EXPECT_EQ(clock.unix_time_s(), 1'700'000'090);
  clock.reboot();
  EXPECT_EQ(clock.monotonic_ms(), 1'000u);
  clock.jump(-3600);
  EXPECT_EQ(clock.unix_time_s(), 1'699'996'490);
  time.advance_to(91'500);
  EXPECT_EQ(clock.monotonic_ms(), 2'000u);
}

TEST(SimEntropy, SameSeedSameBytes) {
  SimEntropy a(3), b(3), c(4);
  std::uint8_t x[32], y[32], z[32];
  ASSERT_TRUE(a.fill(x) && b.fill(y) && c.fill(z));
  EXPECT_EQ(std::memcmp(x, y, sizeof x), 0);
  EXPECT_NE(std::memcmp(x, z, sizeof x), 0);
}

struct Lines final : SimLogSink {
  void log_line(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

TEST(SimLog, LinesCarrySimulatedTimeHostAndLevelWithControlBytesEscaped) {
  SimTime time;
  Lines sink;
  SimLog log(time, "relay", LogLevel::info, sink);
  time.advance_to(((2 * 24 + 3) * 3600 + 4 * 60 + 5) * 1000ull + 6);
  log.write(LogLevel::warning, "smarthost %s said %d", "a\nb", 451);
  log.write(LogLevel::debug, "not shown");
  log.write(LogLevel::info, "evil\r\nforged");
  ASSERT_EQ(sink.lines.size(), 2u);
  EXPECT_EQ(sink.lines[0], "2+03:04:05.006 relay W smarthost a\\x0ab said 451");
  EXPECT_EQ(sink.lines[1], "2+03:04:05.006 relay I evil\\x0d\\x0aforged");
}

}  // namespace
}  // namespace pigeon::hal
