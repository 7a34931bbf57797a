// Fuzzes the SMTP client engine: any smarthost replies; settings, messages and
// how the body is read from the tape. The session runs twice, fed whole and in
// small pieces; both runs must write the same bytes and report the same
// events (docs/architecture.md §8). Each run also keeps the engine's promises:
// a recipient gets at most one result, and every one has its result when its
// transaction finishes; nothing is reported or written after session_failed;
// outside a message body the engine writes printable command lines ending in
// CRLF that fit in command_reserve_bytes, and nothing after QUIT; a body goes
// out dot-stuffed with its terminator; reply text handed on is printable.
#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "protocol/ascii.hpp"
#include "protocol/smtp_client.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

using protocol::SmtpClient;
using protocol::SmtpClientMessage;
using protocol::SmtpClientReply;

// Paths and names up to the lengths the configuration and the spool allow.
const std::string long_helo_name = std::string(63, 'h') + "." + std::string(63, 'e') + "." + std::string(63, 'l') +
                                   "." + std::string(63, 'o');
const std::string longest_secret(255, 's');
const std::string longest_path = std::string(64, 'l') + "@" + std::string(63, 'd') + "." + std::string(63, 'o') +
                                 "." + std::string(61, 'm');
const std::array<std::string, 4> paths{"a@example.org", "", "b.c+tag@example.net", longest_path};

bool is_printable(char c) { return c >= ' ' && c != 0x7F && !ascii::is_non_ascii(c); }

// RFC 5321 §4.2 textstring: HT and printable ASCII.
bool is_textstring(std::string_view text) {
  for (const char c : text) {
    if (c != '\t' && !is_printable(c)) return false;
  }
  return true;
}

// One message of the session, all chosen by the tape from `base` on.
struct PlannedMessage {
  std::string reverse_path;
  std::vector<std::string> recipients;
  std::string body;
  std::size_t readable_bytes = 0;  // less than the body when the spool's flash "fails" there
  std::size_t read_piece_bytes = 1;
  bool body_8bit = false;

  PlannedMessage(const Tape& tape, std::size_t base) {
    const std::uint8_t shape = tape.at(base);
    const std::size_t recipient_count = shape % 8 == 7 ? 40 : 1 + shape % 4;
    for (std::size_t i = 0; i < recipient_count; ++i) {
      const std::string& path = paths[(shape / 8 + i) % paths.size()];
      recipients.push_back(path.empty() ? "postmaster@example.org" : path);
    }
    reverse_path = paths[tape.at(base + 1) % paths.size()];
    body_8bit = tape.at(base + 1) & 4;
    body = make_body(tape, base + 2);
    readable_bytes = tape.at(base + 3) % 8 == 7 ? body.size() / 2 : body.size();
    read_piece_bytes = 1 + tape.at(base + 4) % 600;
  }

  // A marker line (so the body cannot be taken for a command), then lines of
  // the kinds that matter for dot-stuffing, sometimes a last line without CRLF.
  static std::string make_body(const Tape& tape, std::size_t base) {
    static constexpr std::array<std::string_view, 6> lines{".", ".leading dot", "plain text", "", "..", "\t8bit \xC3\xA4"};
    std::string body = "X-Fuzz-Body: yes\r\n";
    const std::uint8_t shape = tape.at(base);
    for (std::size_t i = 0; i < shape % 6; ++i) body.append(lines[tape.at(base + 10 + i) % lines.size()]).append("\r\n");
    if (shape & 0x40) body.append(900, 'x').append("\r\n");  // longer than a small output buffer's free space
    if (shape & 0x80) body.append("no line end");
    return body;
  }

  SmtpClientMessage message() const {
    return {reverse_path, recipients.size(), static_cast<std::uint32_t>(body.size()), body_8bit};
  }

  // What the engine must write for this body after the 354: RFC 5321 §4.5.2,
  // written here independently of protocol/dot_stuffer.
  std::string stuffed() const {
    std::string out;
    bool line_start = true;
    for (const char c : body) {
      if (line_start && c == '.') out.push_back('.');
      out.push_back(c);
      line_start = c == '\n';
    }
    return out + (line_start ? ".\r\n" : "\r\n.\r\n");
  }
};

// What the tape picks for one session; the same for both runs.
struct Plan {
  protocol::SmtpClientSettings settings;
  std::size_t output_bytes;
  std::vector<PlannedMessage> messages;

  explicit Plan(const Tape& tape) : output_bytes(SmtpClient::command_reserve_bytes + 8u * tape.at(1)) {
    const std::uint8_t bits = tape.at(0);
    settings.helo_name = bits & 16 ? std::string_view(long_helo_name) : "relay.fuzz.test";
    settings.starttls = bits & 1;
    settings.tls_active = bits & 2;
    if (bits & 4) {
      settings.user = bits & 32 ? std::string_view(longest_secret) : "relay";
      settings.password = bits & 32 ? std::string_view(longest_secret) : "secret";
    }
    settings.allow_pipelining = !(bits & 8);
    const std::size_t count = 1 + tape.at(2) % 3;
    messages.reserve(count);  // the recorder keeps a pointer to the message being sent
    for (std::size_t k = 0; k < count; ++k) messages.emplace_back(tape, 12 + 5 * k);
  }
};

// Records the engine's events and checks the contract of SmtpClientEvents.
class Recorder final : public protocol::SmtpClientEvents {
 public:
  // `sent` and `out` together are everything the engine wrote so far.
  Recorder(const std::string& sent, const protocol::OutputBuffer& out) : sent_(sent), out_(out) {}
  void attach(const SmtpClient& client) { client_ = &client; }

  std::vector<std::string> events;
  bool failed() const { return written_at_failure_.has_value(); }
  std::optional<std::size_t> written_at_failure() const { return written_at_failure_; }

  void begin(const PlannedMessage& message) {
    require(!in_transaction_ && !failed());
    message_ = &message;
    in_transaction_ = true;
    reported_.assign(message.recipients.size(), false);
    served_bytes_ = 0;
    events.push_back("send");
  }

  void recipient_result(std::size_t index, const SmtpClientReply& reply) override {
    require(in_transaction_ && !failed() && index < reported_.size() && !reported_[index]);
    reported_[index] = true;
    events.push_back("result " + std::to_string(index) + " " + describe(reply));
  }

  void transaction_finished() override {
    require(in_transaction_ && !failed() && client_->ready_for_message());
    for (const bool reported : reported_) require(reported);
    in_transaction_ = false;
    events.emplace_back("finished");
  }

  void session_failed(const SmtpClientReply& reply) override {
    require(!failed() && client_->finished());
    written_at_failure_ = sent_.size() + out_.size();
    events.push_back("failed " + describe(reply));
  }

  // Written into `out`, as the spool does: the engine must use it before asking again.
  std::optional<std::string_view> recipient_address(std::size_t index, std::span<char, protocol::max_path_bytes> out) override {
    require(in_transaction_ && !failed() && index < message_->recipients.size());
    const std::string& address = message_->recipients[index];
    require(address.size() <= out.size());
    std::fill(out.begin(), out.end(), '#');
    std::copy(address.begin(), address.end(), out.begin());
    return std::string_view(out.data(), address.size());
  }

  std::optional<std::size_t> read_body(std::uint32_t offset, std::span<std::uint8_t> out) override {
    require(in_transaction_ && !failed() && offset == served_bytes_ && !out.empty());
    const bool unreadable_here = served_bytes_ == message_->readable_bytes && served_bytes_ < message_->body.size();
    if (unreadable_here) return std::nullopt;  // the spool's flash "fails" at this byte
    const std::size_t length =
        std::min({out.size(), message_->readable_bytes - served_bytes_, message_->read_piece_bytes});
    std::copy_n(message_->body.begin() + static_cast<std::ptrdiff_t>(served_bytes_), length, out.begin());
    served_bytes_ += length;
    return length;
  }

 private:
  static std::string describe(const SmtpClientReply& reply) {
    require(reply.code >= 200 && reply.code <= 599 && is_textstring(reply.enhanced) && is_textstring(reply.text));
    return std::to_string(reply.code) + " " + std::string(reply.enhanced) + " " + std::string(reply.text) +
           (reply.local ? " (local)" : "");
  }

  const SmtpClient* client_ = nullptr;
  const std::string& sent_;
  const protocol::OutputBuffer& out_;
  const PlannedMessage* message_ = nullptr;
  bool in_transaction_ = false;
  std::vector<bool> reported_;
  std::size_t served_bytes_ = 0;
  std::optional<std::size_t> written_at_failure_;
};

bool is_base64_line(std::string_view line) {
  for (const char c : line) {
    if (!ascii::is_alnum(c) && c != '+' && c != '/' && c != '=') return false;
  }
  return !line.empty();
}

bool is_command(std::string_view line) {
  static constexpr std::array<std::string_view, 10> starts{"EHLO ", "HELO ", "STARTTLS", "AUTH PLAIN ", "AUTH LOGIN",
                                                           "MAIL FROM:<", "RCPT TO:<", "DATA", "RSET", "QUIT"};
  for (const std::string_view start : starts) {
    if (line.starts_with(start)) return true;
  }
  return is_base64_line(line);  // an AUTH LOGIN answer
}

// Checks what the engine wrote: command lines, and after a DATA the body
// (whole, or cut short when it could not be read and the session failed), or
// the lone terminator when no recipient was accepted, or nothing when the
// server refused DATA. `sends[k]` is where message k's commands start.
void check_output(std::string_view sent, const Plan& plan, const std::vector<std::size_t>& sends, bool failed) {
  std::string_view rest = sent;
  while (!rest.empty()) {
    const std::size_t end = rest.find("\r\n");
    require(end != std::string_view::npos && end + 2 <= SmtpClient::command_reserve_bytes);
    const std::string_view line = rest.substr(0, end);
    for (const char c : line) require(is_printable(c));
    require(is_command(line));
    rest.remove_prefix(end + 2);
    if (line == "QUIT") require(rest.empty());
    if (line != "DATA") continue;
    const std::size_t offset = sent.size() - rest.size();
    std::size_t message = 0;
    while (message + 1 < sends.size() && sends[message + 1] <= offset) ++message;
    const std::string body = plan.messages[message].stuffed();
    if (rest.starts_with(body)) {
      rest.remove_prefix(body.size());
    } else if (!rest.empty() && std::string_view(body).starts_with(rest)) {
      require(failed);  // cut short where the body became unreadable
      rest = {};
    } else if (rest.starts_with(".\r\n")) {
      rest.remove_prefix(3);
    }
  }
}

Outcome run(const Tape& tape, const std::vector<std::size_t>& pieces) {
  const Plan plan(tape);
  std::vector<std::uint8_t> storage(plan.output_bytes);
  protocol::OutputBuffer out(storage);
  std::string sent;
  Recorder events(sent, out);
  SmtpClient client(events, out, plan.settings);
  events.attach(client);
  std::vector<std::size_t> sends;  // where each message's commands start in `sent`
  bool quit = false;

  // Drains the output and does what the connection would: the handshake
  // (not simulated; pipelined bytes are kept so both runs stay alike), the
  // next message or QUIT, until the engine has nothing more to do now.
  auto settle = [&] {
    for (int rounds = 0;; ++rounds) {
      require(rounds < 1'000'000);  // the body streams out: that must end
      client.pump();
      const bool wrote = !out.empty();
      sent.append(reinterpret_cast<const char*>(out.pending().data()), out.size());
      out.clear();
      if (client.awaiting_tls()) {
        client.tls_started();
      } else if (client.ready_for_message() && sends.size() < plan.messages.size()) {
        sends.push_back(sent.size());
        events.begin(plan.messages[sends.size() - 1]);
        client.send(plan.messages[sends.size() - 1].message());
      } else if (client.ready_for_message() && !quit) {
        client.quit();
        quit = true;
      } else if (!wrote) {
        return;
      }
    }
  };
  settle();
  play(tape, pieces, client, settle);
  if (const auto at_failure = events.written_at_failure()) require(sent.size() == *at_failure);
  check_output(sent, plan, sends, events.failed());
  return {sent, events.events};
}

}  // namespace
}  // namespace pigeon::fuzz

PIGEON_FUZZ_WHOLE_AND_SPLIT(pigeon::fuzz::run)
