// Server-side session tickets through the TLS glue alone: the relay's own
// smarthost client, which keeps its last session and offers it again, connects
// to a TlsServer in the same process over loopback (TLS 1.3).
#include <gtest/gtest.h>

#include <array>
#include <ctime>
#include <string_view>

#include "firmware/server_identity.hpp"
#include "firmware/smarthost_tls.hpp"
#include "firmware/tls_arena.hpp"
#include "firmware/tls_session.hpp"
#include "hal/posix/posix_entropy.hpp"
#include "hal/posix/posix_net.hpp"

namespace pigeon {
namespace {

using hal::NetStatus;

CryptoRandom& random_generator() {
  static hal::PosixEntropy entropy;
  tls_arena_init();
  static CryptoRandom random(entropy);
  return random;
}

hal::Endpoint loopback(std::uint16_t port) {
  hal::Endpoint endpoint;
  endpoint.address.bytes[0] = 127;
  endpoint.address.bytes[3] = 1;
  endpoint.port = port;
  return endpoint;
}

// The first-boot identity for "localhost", made once for every test.
struct Identity {
  std::array<char, 4096> key{};
  std::array<char, 4096> cert{};
  ServerIdentityPem pem{key, cert};
  Identity() { EXPECT_TRUE(generate_server_identity(random_generator(), "localhost", std::time(nullptr), pem)); }
  std::string_view key_pem() const { return {key.data(), pem.key_length}; }
  std::string_view cert_pem() const { return {cert.data(), pem.cert_length}; }
};

const Identity& identity() {
  static const Identity made;
  return made;
}

class TlsResumption : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(net_.listen(loopback(0), listener_), NetStatus::ok);
    ASSERT_TRUE(client_.load_ca_pem(identity().cert.data()));
    ASSERT_TRUE(client_.set_peer("localhost", nullptr));
  }

  // The server as the relay starts it: its identity, tickets of `lifetime_s`.
  static void start(TlsServer& server, std::uint32_t lifetime_s) {
    ASSERT_TRUE(server.load_identity(identity().key_pem(), identity().cert_pem()));
    ASSERT_TRUE(server.enable_tickets(lifetime_s));
  }

  // One connection from the smarthost client to `server`: both handshakes to
  // their end, then one line from the server, which brings a TLS 1.3 ticket to
  // the client with it. False when a step failed or took too long.
  bool connect_once(TlsServer& server) {
    hal::StreamId client_stream = hal::invalid_id;
    hal::StreamId server_stream = hal::invalid_id;
    hal::Endpoint peer;
    if (net_.connect(loopback(net_.local_port(listener_)), client_stream) != NetStatus::ok) return false;
    if (!eventually([&] { return net_.accept(listener_, server_stream, peer) == NetStatus::ok; })) return false;
    TlsSession* ours = server.acquire(net_, server_stream);
    TlsSession* theirs = client_.acquire(net_, client_stream);
    const bool done = ours != nullptr && theirs != nullptr && handshake(*ours, *theirs) && line_arrives(*ours, *theirs);
    if (theirs != nullptr) client_.release(theirs);
    if (ours != nullptr) server.release(ours);
    net_.close(client_stream);
    net_.close(server_stream);
    return done;
  }

  template <typename Step>
  bool eventually(Step step) {
    for (int round = 0; round < 500; ++round) {
      if (step()) return true;
      net_.wait(10);
    }
    return false;
  }

  bool handshake(TlsSession& server, TlsSession& client) {
    TlsStep server_step = TlsStep::in_progress;
    TlsStep client_step = TlsStep::in_progress;
    return eventually([&] {
      if (server_step == TlsStep::in_progress) server_step = server.handshake();
      if (client_step == TlsStep::in_progress) client_step = client.handshake();
      return server_step != TlsStep::in_progress && client_step != TlsStep::in_progress;
    }) && server_step == TlsStep::done && client_step == TlsStep::done;
  }

  bool line_arrives(TlsSession& server, TlsSession& client) {
    constexpr std::string_view line = "220 ready\r\n";
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(line.data());
    if (server.write({bytes, line.size()}).bytes != line.size()) return false;
    std::array<std::uint8_t, 64> got{};
    return eventually([&] { return client.read(got).status == NetStatus::ok; });
  }

  hal::PosixNet net_;
  hal::ListenerId listener_ = hal::invalid_id;
  SmarthostTlsClient client_{random_generator()};
};

TEST_F(TlsResumption, TheSecondConnectionResumesWithTheServersTicket) {
  TlsServer server(random_generator());
  start(server, 7200);
  ASSERT_TRUE(connect_once(server));
  ASSERT_TRUE(connect_once(server));
  ASSERT_TRUE(connect_once(server));
  EXPECT_EQ(client_.counters().handshakes, 3u);
  EXPECT_EQ(client_.counters().resumed, 2u);
}

TEST_F(TlsResumption, AServerWithNewKeysRefusesTheTicketAndHandshakesInFull) {
  {
    TlsServer before_restart(random_generator());
    start(before_restart, 7200);
    ASSERT_TRUE(connect_once(before_restart));
  }
  TlsServer after_restart(random_generator());
  start(after_restart, 7200);
  ASSERT_TRUE(connect_once(after_restart));  // the old ticket: a full handshake
  ASSERT_TRUE(connect_once(after_restart));  // the new one resumes
  EXPECT_EQ(client_.counters().handshakes, 3u);
  EXPECT_EQ(client_.counters().resumed, 1u);
}

// The relay's loop replaces the sealing key every lifetime without waiting for
// a client: a ticket stays good across one replacement, and after the second
// its key is gone from memory, however idle the relay was.
TEST_F(TlsResumption, ATicketOpensAfterOneKeyRotationAndNotAfterTwo) {
  constexpr std::uint64_t lifetime_ms = 7200 * 1000;
  TlsServer server(random_generator());
  start(server, 7200);
  server.rotate_ticket_keys(0);  // times the first replacement
  ASSERT_TRUE(connect_once(server));
  server.rotate_ticket_keys(lifetime_ms - 1);  // not yet
  server.rotate_ticket_keys(lifetime_ms);
  ASSERT_TRUE(connect_once(server));
  EXPECT_EQ(client_.counters().resumed, 1u);
  // That connection left the client a ticket sealed under the new key.
  server.rotate_ticket_keys(2 * lifetime_ms);
  server.rotate_ticket_keys(3 * lifetime_ms);
  ASSERT_TRUE(connect_once(server));
  EXPECT_EQ(client_.counters().handshakes, 3u);
  EXPECT_EQ(client_.counters().resumed, 1u);
}

TEST_F(TlsResumption, NoTicketsWithALifetimeOfZero) {
  TlsServer server(random_generator());
  start(server, 0);
  ASSERT_TRUE(connect_once(server));
  ASSERT_TRUE(connect_once(server));
  EXPECT_EQ(client_.counters().handshakes, 2u);
  EXPECT_EQ(client_.counters().resumed, 0u);
}

}  // namespace
}  // namespace pigeon
