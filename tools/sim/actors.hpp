// The simulated world's hosts besides the relays: devices that submit mail
// over SMTP (plain, STARTTLS or TLS from the first byte, with AUTH PLAIN),
// readers that fetch and delete over POP3 (plain, STLS or POP3S), and smarthosts that run
// the real SMTP server engine (protocol/smtp_server) with a policy that
// accepts, greylists, refuses, hangs or drops as the scenario's schedule says.
// Every actor is a host on the simulated network; run() does one round of
// its work and sets when it wants to run again.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "firmware/alert.hpp"
#include "firmware/crypto_random.hpp"
#include "firmware/smarthost_tls.hpp"
#include "hal/sim/sim_entropy.hpp"
#include "hal/sim/sim_log.hpp"
#include "hal/sim/sim_network.hpp"
#include "hal/sim/sim_random.hpp"
#include "ledger.hpp"

namespace pigeon::sim {

// How a client actor reaches the relay: in the clear, upgraded with
// STARTTLS/STLS on the plain port, or TLS from the first byte (465, 995).
enum class ClientTls : std::uint8_t { none, starttls, implicit };
std::optional<ClientTls> client_tls_from_name(std::string_view name);

// A client actor's side of TLS: the firmware's verified TLS client (the one
// the relay uses towards its smarthost), with the relay's certificate as its
// CA and the relay's name to check. It offers its last session again, so a
// returning client resumes. Its generator is fed from the actor's seed.
class ClientTlsContext {
 public:
  ClientTlsContext(std::uint64_t seed, const std::string& ca_pem, const std::string& peer_name);
  bool ready() const { return ready_; }
  SmarthostTlsClient& client() { return client_; }
  const SmarthostTlsClient::Counters& counters() const { return client_.counters(); }

 private:
  hal::SimEntropy entropy_;
  CryptoRandom random_;
  SmarthostTlsClient client_{random_};
  bool ready_ = false;
};

class Actor {
 public:
  virtual ~Actor() = default;
  virtual void run(std::uint64_t now_ms) = 0;
  virtual hal::SimNet& net() = 0;
};

// One TCP conversation of a client actor: bytes out, replies in, through TLS
// once it started.
class Conversation {
 public:
  bool active() const { return stream_ != hal::invalid_id; }
  void open(hal::SimNet& net, const hal::Endpoint& remote);
  // TLS from here on (the connection's first byte, or after STARTTLS/STLS was
  // answered): what is sent next waits for the handshake. False when the
  // client has no free session.
  bool start_tls(hal::SimNet& net, SmarthostTlsClient& tls);
  bool tls_started() const { return tls_ != nullptr; }
  // The connection's TLS handshake failed, and why (Mbed TLS's words).
  bool tls_failed() const { return tls_failed_; }
  const char* tls_failure() const { return tls_failure_; }
  // Sends what is pending and reads what arrived; false once the connection
  // is gone (refused, reset, closed by the peer, a TLS handshake that failed).
  bool pump(hal::SimNet& net);
  void send(std::string_view text) { output_ += text; }
  void close(hal::SimNet& net);
  // A complete SMTP reply (every line of a multi-line one), or nothing yet.
  std::optional<std::string> smtp_reply();
  // One line without its CRLF (or its LF: `lf_only`); a POP3 multi-line
  // answer up to its final dot.
  std::optional<std::string> line(bool lf_only = false);
  std::optional<std::string> multiline();
  bool connected(hal::SimNet& net) const { return active() && net.connected(stream_); }

 private:
  // One step of the handshake; false when it failed.
  bool handshake();
  hal::IoResult send_bytes(hal::SimNet& net, std::string_view bytes);
  hal::IoResult receive_bytes(hal::SimNet& net, std::span<std::uint8_t> out);

  hal::StreamId stream_ = hal::invalid_id;
  std::string input_;
  std::string output_;
  SmarthostTlsClient* tls_client_ = nullptr;
  TlsSession* tls_ = nullptr;
  bool handshaking_ = false;
  bool tls_failed_ = false;
  const char* tls_failure_ = "";
};

// The message number in a message's text ("X-Sim-Id: N" in the headers of a
// device's message, or "sim-id N" in an alert's body; a bounce quotes it). An
// alert's summary ("occurred N times") carries the body, so the number, of the
// key's latest occurrence, which was coalesced and so never acknowledged.
std::optional<std::uint64_t> message_number(std::string_view text);
bool is_bounce(std::string_view text);

// What a client actor needs for TLS to its relay.
struct ClientTlsSettings {
  ClientTls mode = ClientTls::none;
  std::string relay_name;      // the name the relay's certificate carries
  std::string relay_ca_pem;    // the relay's certificate, trusted as a CA
};

struct DeviceSettings {
  std::string name;
  hal::Endpoint relay;
  ClientTlsSettings tls;
  std::string user, password;  // AUTH PLAIN when the user is set
  std::string from, to;
  std::uint64_t interval_ms = 600'000;  // mean time between messages
  std::uint32_t body_bytes = 1000;
  std::uint64_t until_ms = UINT64_MAX;  // submits nothing new after this
};

// A device that sends a message every interval (uniform in [interval/2,
// 3*interval/2]) over SMTP (plain, STARTTLS or implicit TLS, with AUTH PLAIN
// when it has a user), retrying until a reply to its final dot decides: 250
// acknowledged, 4xx/5xx refused, none (connection lost) unknown.
class Device final : public Actor {
 public:
  Device(hal::SimNetwork& network, hal::SimHostId host, const DeviceSettings& settings, Ledger& ledger,
         hal::SimRandom random, hal::SimLogSink& log_sink);
  void run(std::uint64_t now_ms) override;
  hal::SimNet& net() override { return net_; }
  std::uint64_t retries() const { return retries_; }
  // A message it still tries to hand over (refused for now, or no connection).
  bool holds_message() const { return message_.has_value(); }
  // Its TLS handshakes (full and resumed) and the ones that failed.
  bool tls_ready() const { return tls_ == nullptr || tls_->ready(); }
  SmarthostTlsClient::Counters tls_counters() const;
  std::uint64_t tls_failures() const { return tls_failures_; }

 private:
  enum class Step : std::uint8_t { idle, greeting, ehlo, starttls, auth, mail, rcpt, data, dot, quit };
  void after_ehlo(std::uint64_t now_ms);
  void start(std::uint64_t now_ms);
  void advance(const std::string& reply, std::uint64_t now_ms);
  void give_up(std::uint64_t now_ms);
  void finish(std::uint64_t now_ms);
  std::string body() const;

  hal::SimNet net_;
  DeviceSettings settings_;
  Ledger& ledger_;
  hal::SimLog log_;
  hal::SimRandom random_;
  Conversation conversation_;
  std::unique_ptr<ClientTlsContext> tls_;  // none in the clear
  Step step_ = Step::idle;
  bool authenticated_ = false;
  std::optional<std::uint64_t> message_;
  std::uint64_t next_send_ms_ = 0;
  std::uint64_t deadline_ms_ = 0;
  std::uint64_t retries_ = 0;
  std::uint64_t tls_failures_ = 0;
};

struct ReaderSettings {
  std::string name;
  hal::Endpoint relay;
  ClientTlsSettings tls;
  std::string user, password;
  std::uint64_t interval_ms = 1'800'000;
};

// A mail client that logs in over POP3 (plain, STLS or POP3S) every interval,
// retrieves every message, deletes it, and quits; the deletions count once
// QUIT says +OK.
class Reader final : public Actor {
 public:
  Reader(hal::SimNetwork& network, hal::SimHostId host, const ReaderSettings& settings, Ledger& ledger,
         hal::SimRandom random, hal::SimLogSink& log_sink);
  void run(std::uint64_t now_ms) override;
  hal::SimNet& net() override { return net_; }
  std::uint64_t sessions_committed() const { return sessions_committed_; }
  bool tls_ready() const { return tls_ == nullptr || tls_->ready(); }
  SmarthostTlsClient::Counters tls_counters() const;
  std::uint64_t tls_failures() const { return tls_failures_; }

 private:
  enum class Step : std::uint8_t { idle, greeting, stls, user, pass, list, retr, dele, quit };
  void send_user();
  void advance(std::uint64_t now_ms);
  void end_session(std::uint64_t now_ms);

  hal::SimNet net_;
  ReaderSettings settings_;
  Ledger& ledger_;
  hal::SimLog log_;
  hal::SimRandom random_;
  Conversation conversation_;
  std::unique_ptr<ClientTlsContext> tls_;  // none in the clear
  std::uint64_t tls_failures_ = 0;
  Step step_ = Step::idle;
  std::uint64_t next_session_ms_ = 0;
  std::uint64_t deadline_ms_ = 0;
  std::size_t message_count_ = 0;
  std::size_t current_ = 0;
  std::vector<std::uint64_t> deleted_;
  std::optional<std::uint64_t> current_id_;
  std::uint64_t sessions_committed_ = 0;
};

// The answers an alert source got: only `sent` is a promise (Answer::acknowledged).
struct AlertCounts {
  std::uint64_t sent = 0, coalesced = 0, refused = 0;
  std::uint64_t unanswered = 0;  // the endpoint's connection ended or timed out first
  void count(AlertStatus status);
};

// The message body an alert source sends: the ledger's number, which the
// message (or its key's summary) carries out.
std::string alert_body(std::uint64_t id, std::string_view key);

struct AlertClientSettings {
  std::string name;   // also the alert keys' prefix
  hal::Endpoint relay;  // the relay's alert endpoint
  std::string to;
  std::uint32_t keys = 1;
  std::uint64_t interval_ms = 60'000;
  std::uint64_t from_ms = 0, until_ms = UINT64_MAX;
};

// A program beside the relay that raises alerts through its alert endpoint
// (firmware/alert_endpoint.hpp) as tools/pigeon-alert does: one request per
// connection, "key TAB to TAB subject TAB body LF", answered with the alert's
// status and closed. One alert at a time, every interval; the keys cycle.
class AlertClient final : public Actor {
 public:
  AlertClient(hal::SimNetwork& network, hal::SimHostId host, const AlertClientSettings& settings, Ledger& ledger,
              hal::SimLogSink& log_sink);
  void run(std::uint64_t now_ms) override;
  hal::SimNet& net() override { return net_; }
  const AlertCounts& counts() const { return counts_; }

 private:
  void start(std::uint64_t now_ms);
  void finish(std::optional<AlertStatus> status, std::uint64_t now_ms);

  hal::SimNet net_;
  AlertClientSettings settings_;
  Ledger& ledger_;
  hal::SimLog log_;
  Conversation conversation_;
  std::optional<std::uint64_t> alert_;  // the ledger's number of the alert in flight
  std::uint64_t next_ms_ = 0;
  std::uint64_t deadline_ms_ = 0;
  std::uint64_t raised_ = 0;
  AlertCounts counts_;
};

enum class SmarthostMode : std::uint8_t { accept, greylist, refuse, hang, drop, lose_reply, bad_cert };
const char* mode_name(SmarthostMode mode);
std::optional<SmarthostMode> mode_from_name(std::string_view name);

struct SmarthostWindow {
  SmarthostMode mode;
  std::uint64_t from_ms, until_ms;
};

struct SmarthostSettings {
  std::string name;
  std::uint16_t port = 25;
  bool starttls = false;  // offers STARTTLS, its certificate naming NAME.sim
  std::uint64_t greylist_delay_ms = 300'000;
  std::vector<SmarthostWindow> schedule;  // accept outside every window
};

struct SmarthostCounters {
  std::uint64_t sessions = 0, messages = 0, greylisted = 0, refused = 0, hung = 0, dropped = 0, replies_lost = 0;
  std::uint64_t tls_sessions = 0, tls_failures = 0, bad_certificates = 0;
};

// A smarthost: the real SMTP server engine behind a listener, its policy
// following the schedule. Every message it takes is reported to the ledger.
class Smarthost final : public Actor {
 public:
  Smarthost(hal::SimNetwork& network, hal::SimHostId host, const SmarthostSettings& settings, Ledger& ledger,
            hal::SimLogSink& log_sink, std::uint64_t seed, std::int64_t epoch_s);
  ~Smarthost() override;
  void run(std::uint64_t now_ms) override;
  hal::SimNet& net() override { return net_; }
  SmarthostMode mode_at(std::uint64_t now_ms) const;
  const SmarthostCounters& counters() const { return counters_; }
  // The name its certificate carries, and the certificate (the relay's CA).
  std::string tls_name() const { return settings_.name + ".sim"; }
  const std::string& certificate_pem() const;

 private:
  class Session;
  struct Tls;  // Mbed TLS: the good and the bad identity (actors.cpp)
  void accept_sessions(std::uint64_t now_ms);

  hal::SimNet net_;
  SmarthostSettings settings_;
  Ledger& ledger_;
  hal::SimLog log_;
  hal::ListenerId listener_ = hal::invalid_id;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<std::pair<std::string, std::uint64_t>> first_seen_;  // greylisting: triplet, first attempt
  SmarthostCounters counters_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace pigeon::sim
