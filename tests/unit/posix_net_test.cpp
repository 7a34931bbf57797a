#include "hal/posix/posix_net.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pigeon::hal {
namespace {

Endpoint loopback(std::uint16_t port) {
  Endpoint endpoint;
  endpoint.address.bytes[0] = 127;
  endpoint.address.bytes[3] = 1;
  endpoint.port = port;
  return endpoint;
}

// Waits (bounded) until `step` returns true.
template <typename Step>
bool eventually(PosixNet& net, Step step) {
  for (int round = 0; round < 200; ++round) {
    if (step()) return true;
    net.wait(10);
  }
  return false;
}

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// A client connected to a new loopback listener, and the server's side of it
// accepted (bounded); false when either side did not come up.
bool connect_pair(PosixNet& net, StreamId& client, StreamId& server, Endpoint& peer) {
  ListenerId listener = invalid_id;
  if (net.listen(loopback(0), listener) != NetStatus::ok || net.local_port(listener) == 0) return false;
  if (net.connect(loopback(net.local_port(listener)), client) != NetStatus::ok) return false;
  return eventually(net, [&] { return net.accept(listener, server, peer) == NetStatus::ok; }) &&
         eventually(net, [&] { return net.connected(client); });
}

TEST(PosixNet, ConnectsSendsReceivesAndSeesClose) {
  PosixNet net;
  StreamId client = invalid_id;
  StreamId server = invalid_id;
  Endpoint peer;
  ASSERT_TRUE(connect_pair(net, client, server, peer));
  EXPECT_EQ(peer.address.bytes[0], 127);

  const IoResult sent = net.send(client, bytes_of("EHLO test\r\n"));
  ASSERT_EQ(sent.status, NetStatus::ok);
  EXPECT_EQ(sent.bytes, 11u);
  std::uint8_t buffer[64];
  std::string received;
  ASSERT_TRUE(eventually(net, [&] {
    const IoResult got = net.receive(server, buffer);
    if (got.status == NetStatus::ok) received.append(reinterpret_cast<char*>(buffer), got.bytes);
    return received.size() == 11;
  }));
  EXPECT_EQ(received, "EHLO test\r\n");
  EXPECT_EQ(net.receive(server, buffer).status, NetStatus::would_block);

  net.close(client);
  ASSERT_TRUE(eventually(net, [&] { return net.receive(server, buffer).status == NetStatus::closed; }));
}

// After a read that came back short, receive() does not ask the socket again
// until wait() has seen input: bytes that arrive meanwhile wait for the next
// round (the level-triggered poll sees them at once), and so does the close.
TEST(PosixNet, AShortReadWaitsForTheNextRoundBeforeReadingAgain) {
  PosixNet net;
  StreamId client = invalid_id;
  StreamId server = invalid_id;
  Endpoint peer;
  ASSERT_TRUE(connect_pair(net, client, server, peer));

  std::uint8_t buffer[64];
  ASSERT_EQ(net.send(client, bytes_of("one")).bytes, 3u);
  ASSERT_TRUE(eventually(net, [&] { return net.receive(server, buffer).bytes == 3; }));
  ASSERT_EQ(net.send(client, bytes_of("two")).bytes, 3u);
  ASSERT_TRUE(eventually(net, [&] { return net.receive(server, buffer).bytes == 3; }));

  // A full read may leave more: the next receive() asks the socket.
  ASSERT_EQ(net.send(client, bytes_of("0123456789")).bytes, 10u);
  std::uint8_t small[4];
  ASSERT_TRUE(eventually(net, [&] { return net.receive(server, small).bytes == 4; }));
  EXPECT_EQ(net.receive(server, small).bytes, 4u);
  EXPECT_EQ(net.receive(server, small).bytes, 2u);

  // The short read emptied the queue: what comes before the next wait() is
  // not read until then.
  ASSERT_EQ(net.send(client, bytes_of("late")).bytes, 4u);
  net.close(client);
  EXPECT_EQ(net.receive(server, buffer).status, NetStatus::would_block);
  std::string received;
  ASSERT_TRUE(eventually(net, [&] {
    const IoResult got = net.receive(server, buffer);
    if (got.status == NetStatus::ok) received.append(reinterpret_cast<char*>(buffer), got.bytes);
    return got.status == NetStatus::closed;
  }));
  EXPECT_EQ(received, "late");
}

TEST(PosixNet, ReportsAPortInUse) {
  PosixNet net;
  ListenerId first = invalid_id;
  ASSERT_EQ(net.listen(loopback(0), first), NetStatus::ok);
  ListenerId second = invalid_id;
  EXPECT_EQ(net.listen(loopback(net.local_port(first)), second), NetStatus::address_in_use);
}

TEST(PosixNet, ReportsARefusedConnection) {
  std::uint16_t closed_port = 0;
  {
    PosixNet scratch;  // bind a port, learn its number, then let it go
    ListenerId listener = invalid_id;
    ASSERT_EQ(scratch.listen(loopback(0), listener), NetStatus::ok);
    closed_port = scratch.local_port(listener);
  }
  PosixNet net;
  StreamId client = invalid_id;
  ASSERT_EQ(net.connect(loopback(closed_port), client), NetStatus::ok);
  std::uint8_t buffer[8];
  ASSERT_TRUE(eventually(net, [&] {
    net.connected(client);
    return net.receive(client, buffer).status == NetStatus::refused;
  }));
}

}  // namespace
}  // namespace pigeon::hal
