// Fuzzes the SMTP server engine: any client bytes, any policy answers. The
// session runs twice, fed whole and in small pieces; both runs must send the
// same bytes and make the same policy calls (docs/architecture.md §8).
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "protocol/ascii.hpp"
#include "protocol/smtp_server.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

using protocol::MailParameters;
using protocol::SmtpDecision;

// A policy that answers from the tape (see TapeDecisions).
class TapePolicy final : public protocol::SmtpServerPolicy {
 public:
  explicit TapePolicy(const Tape& tape) : tape_(tape), decisions_(tape, answer) {}

  std::vector<std::string> calls;
  SmtpDecision resumed() const { return decisions_.resumed(); }

  SmtpDecision mail_from(std::string_view path, const MailParameters& params) override {
    return decide("mail " + std::string(path) + " " + std::to_string(params.declared_size_bytes));
  }
  SmtpDecision rcpt_to(std::string_view path) override { return decide("rcpt " + std::string(path)); }
  SmtpDecision data_begin() override { return decide("data_begin"); }
  bool data_chunk(std::span<const std::uint8_t> bytes) override {
    require(!bytes.empty());
    if (calls.empty() || calls.back().rfind("data ", 0) != 0) calls.emplace_back("data ");
    calls.back().append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    // Storage fails at a byte value the tape picks: the same byte whatever the split.
    const std::uint8_t failing = tape_.at(3);
    return failing == 0 || std::find(bytes.begin(), bytes.end(), failing) == bytes.end();
  }
  SmtpDecision data_end() override { return decide("data_end"); }
  void data_abort() override {
    // What was stored before the engine gave up depends on the split; storage drops it.
    if (!calls.empty() && calls.back().rfind("data ", 0) == 0) calls.pop_back();
    calls.emplace_back("data_abort");
  }
  void transaction_reset() override { calls.emplace_back("transaction_reset"); }
  // Whether a TLS session is free comes from the tape: the same for every split.
  bool reserve_tls() override { return tape_.at(4) % 4 != 0; }
  SmtpDecision authenticate(std::string_view authzid, std::string_view authcid, std::string_view password) override {
    require(!authcid.empty() && !password.empty());
    return decide("auth " + std::string(authzid) + "/" + std::string(authcid) + "/" + std::string(password));
  }

 private:
  SmtpDecision decide(std::string call) {
    calls.push_back(std::move(call));
    return decisions_.next();
  }

  static SmtpDecision answer(std::uint8_t choice) {
    switch (choice % 3) {
      case 0: return SmtpDecision::accepted();
      case 1: return SmtpDecision::accepted({250, "2.0.0", "Custom OK"});
      default: return SmtpDecision::rejected({550, "5.7.1", "Refused by policy"});
    }
  }

  const Tape& tape_;
  TapeDecisions<SmtpDecision> decisions_;
};

protocol::SmtpServerSettings settings_from(const Tape& tape) {
  const std::uint8_t bits = tape.at(0);
  protocol::SmtpServerSettings settings;
  settings.host_name = "fuzz.test";
  settings.max_message_bytes = 64u + 37u * tape.at(1);
  settings.max_recipients = static_cast<std::uint16_t>(1 + tape.at(2) % 4);
  settings.tls_active = bits & 1;
  settings.starttls_offered = bits & 2;
  settings.auth_offered = bits & 4;
  settings.auth_requires_tls = bits & 8;
  settings.auth_required = bits & 16;
  return settings;
}

Outcome run(const Tape& tape, const std::vector<std::size_t>& pieces) {
  TapePolicy policy(tape);
  std::array<std::uint8_t, 1024> storage{};
  protocol::OutputBuffer out(storage);
  protocol::SmtpServer server(policy, out, settings_from(tape));
  std::string sent;

  auto settle = [&] {
    if (server.awaiting_decision()) server.resume(policy.resumed());
    require(!server.awaiting_decision());
    // The handshake is not simulated; keeping the pipelined bytes keeps both runs alike.
    if (server.awaiting_tls()) server.tls_started();
    // The client's name goes into the Received header: printable ASCII only.
    for (const char c : server.client_name()) require(c > ' ' && c != 0x7F && !ascii::is_non_ascii(c));
    sent.append(reinterpret_cast<const char*>(out.pending().data()), out.size());
    out.clear();
  };
  server.start();
  settle();
  play(tape, pieces, server, settle);
  if (!server.finished()) server.abort_session({421, "4.4.2", "Timeout"});
  settle();
  require(server.finished());
  return {sent, policy.calls};
}

}  // namespace
}  // namespace pigeon::fuzz

PIGEON_FUZZ_WHOLE_AND_SPLIT(pigeon::fuzz::run)
