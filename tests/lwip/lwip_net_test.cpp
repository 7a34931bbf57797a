// hal/lwip against lwIP's own TCP over the loopback interface: the Net contract
// (listen, accept, connect, send, receive, close, abort), back-pressure, the
// receive window, error paths, and that every pbuf goes back to its pool.
#include <gtest/gtest.h>

#include <string>

#include "loopback_stack.hpp"

namespace pigeon::test {
namespace {

class LwipNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    start_lwip();
    baseline_ = lwip_usage();
  }
  void TearDown() override {
    EXPECT_EQ(lwip_usage(), baseline_) << "pbufs, segments or heap bytes were not returned";
  }

  void step() { net_.wait(0); }

  // A connected pair: `client` from connect(), `server` from accept().
  void connect_pair(hal::StreamId& client, hal::StreamId& server) {
    hal::ListenerId listener = hal::invalid_id;
    if (listener_ == hal::invalid_id) {
      ASSERT_EQ(net_.listen(loopback(0), listener), hal::NetStatus::ok);
      listener_ = listener;
    }
    ASSERT_EQ(net_.connect(loopback(net_.local_port(listener_)), client), hal::NetStatus::ok);
    hal::Endpoint peer;
    ASSERT_TRUE(step_until([&] { step(); }, [&] { return net_.accept(listener_, server, peer) == hal::NetStatus::ok; }));
    ASSERT_TRUE(step_until([&] { step(); }, [&] { return net_.connected(client); }));
    EXPECT_EQ(peer.address.bytes[0], 127);
  }

  void close_all(hal::StreamId a, hal::StreamId b) {
    net_.close(a);
    net_.close(b);
    for (int i = 0; i < 50; ++i) step();
  }

  LoopbackDriver driver_;
  hal::LwipNet net_{driver_};
  hal::ListenerId listener_ = hal::invalid_id;
  LwipUsage baseline_{};
};

TEST_F(LwipNetTest, BytesFlowBothWaysAndCloseIsSeenAfterTheData) {
  hal::StreamId client, server;
  connect_pair(client, server);
  ASSERT_TRUE(send_all(net_, client, "EHLO there\r\n", [&] { step(); }));
  std::string at_server;
  ASSERT_TRUE(step_until([&] { step(); drain(net_, server, at_server); }, [&] { return at_server.size() == 12; }));
  EXPECT_EQ(at_server, "EHLO there\r\n");

  ASSERT_TRUE(send_all(net_, server, "250 ok\r\n", [&] { step(); }));
  net_.close(server);
  std::string at_client;
  bool ended = false;
  ASSERT_TRUE(step_until([&] { step(); ended = !drain(net_, client, at_client); }, [&] { return ended; }));
  EXPECT_EQ(at_client, "250 ok\r\n");
  EXPECT_EQ(net_.receive(client, {}).status, hal::NetStatus::closed);
  close_all(client, hal::invalid_id);
}

TEST_F(LwipNetTest, SendStopsAtTheWindowUntilThePeerReads) {
  hal::StreamId client, server;
  connect_pair(client, server);
  std::string pattern;
  for (int i = 0; pattern.size() < 200'000; ++i) pattern += std::to_string(i) + ",";

  // Nobody reads at the server: the sender must get would_block, having
  // queued no more than the peer's window plus its own send buffer.
  std::size_t sent = 0;
  for (int round = 0; round < 200; ++round) {
    const auto rest = std::string_view(pattern).substr(sent);
    const hal::IoResult result = net_.send(client, {reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size()});
    if (result.status == hal::NetStatus::ok) sent += result.bytes;
    step();
  }
  EXPECT_GE(sent, static_cast<std::size_t>(TCP_WND));
  EXPECT_LE(sent, static_cast<std::size_t>(TCP_WND + TCP_SND_BUF));
  const hal::IoResult blocked = net_.send(client, {reinterpret_cast<const std::uint8_t*>(pattern.data()), 1});
  EXPECT_EQ(blocked.status, hal::NetStatus::would_block);

  // Reading reopens the window and the rest arrives, in order.
  std::string received;
  ASSERT_TRUE(step_until(
      [&] {
        const auto rest = std::string_view(pattern).substr(sent);
        const hal::IoResult result =
            net_.send(client, {reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size()});
        if (result.status == hal::NetStatus::ok) sent += result.bytes;
        step();
        drain(net_, server, received);
      },
      [&] { return received.size() == pattern.size(); }));
  EXPECT_EQ(received, pattern);
  close_all(client, server);
}

TEST_F(LwipNetTest, AbortResetsThePeerAndFreesQueuedData) {
  hal::StreamId client, server;
  connect_pair(client, server);
  ASSERT_TRUE(send_all(net_, client, std::string(3000, 'x'), [&] { step(); }));
  for (int i = 0; i < 10; ++i) step();  // the data waits unread at the server
  net_.abort(server);
  hal::IoResult result{};
  std::string ignored;
  ASSERT_TRUE(step_until([&] { step(); drain(net_, client, ignored); }, [&] {
    result = net_.receive(client, {});
    return result.status != hal::NetStatus::would_block;
  }));
  EXPECT_EQ(result.status, hal::NetStatus::closed);
  EXPECT_FALSE(net_.connected(server));
  EXPECT_EQ(net_.send(client, {reinterpret_cast<const std::uint8_t*>("x"), 1}).status, hal::NetStatus::closed);
  close_all(client, hal::invalid_id);
}

TEST_F(LwipNetTest, ConnectToAClosedPortIsRefused) {
  hal::StreamId client;
  ASSERT_EQ(net_.connect(loopback(9), client), hal::NetStatus::ok);
  hal::IoResult result{};
  ASSERT_TRUE(step_until([&] { step(); }, [&] {
    result = net_.receive(client, {});
    return result.status != hal::NetStatus::would_block;
  }));
  EXPECT_EQ(result.status, hal::NetStatus::refused);
  EXPECT_FALSE(net_.connected(client));
  close_all(client, hal::invalid_id);
}

TEST_F(LwipNetTest, ListeningTwiceOnAPortSaysAddressInUse) {
  hal::ListenerId first, second;
  ASSERT_EQ(net_.listen(loopback(2525), first), hal::NetStatus::ok);
  EXPECT_EQ(net_.local_port(first), 2525);
  EXPECT_EQ(net_.listen(loopback(2525), second), hal::NetStatus::address_in_use);
}

TEST_F(LwipNetTest, AcceptWithoutAClientWouldBlockAndUnknownIdsAreClosed) {
  hal::ListenerId listener;
  ASSERT_EQ(net_.listen(loopback(0), listener), hal::NetStatus::ok);
  hal::StreamId stream;
  hal::Endpoint peer;
  EXPECT_EQ(net_.accept(listener, stream, peer), hal::NetStatus::would_block);
  std::uint8_t byte = 0;
  EXPECT_EQ(net_.receive(3, {&byte, 1}).status, hal::NetStatus::closed);
  EXPECT_EQ(net_.send(-1, {&byte, 1}).status, hal::NetStatus::closed);
}

TEST_F(LwipNetTest, ResolvingADottedQuadNeedsNoServer) {
  hal::IpAddress address;
  ASSERT_EQ(net_.resolve("10.0.2.2", address), hal::NetStatus::ok);
  EXPECT_EQ(address.bytes[0], 10);
  EXPECT_EQ(address.bytes[3], 2);
}

TEST_F(LwipNetTest, ResolvingWithoutADnsServerFails) {
  hal::IpAddress address;
  hal::NetStatus status = hal::NetStatus::would_block;
  ASSERT_TRUE(step_until([&] { step(); }, [&] {
    status = net_.resolve("smarthost.example", address);
    return status != hal::NetStatus::would_block;
  }));
  EXPECT_EQ(status, hal::NetStatus::refused);
}

}  // namespace
}  // namespace pigeon::test
