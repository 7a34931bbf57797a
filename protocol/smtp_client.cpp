#include "smtp_client.hpp"

#include <algorithm>

#include "ascii.hpp"
#include "assert.hpp"
#include "base64.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol {
namespace {

// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; be lenient with servers
// that exceed it a little, but never buffer without bound.
constexpr std::size_t max_reply_line = 1024;

using ascii::iequals;
using ascii::is_digit;
using ascii::next_word;

// Digits of one part of an enhanced status code (RFC 3463: 1-3 digits).
std::size_t digit_run(std::string_view text, std::size_t from) {
  std::size_t end = from;
  while (end < text.size() && end - from < 3 && is_digit(text[end])) ++end;
  return end - from;
}

// Splits "4.2.0 text" into its enhanced code and text when the class digit
// matches the reply code (RFC 2034 §4); otherwise the code stays empty.
void split_enhanced(std::string_view text, SmtpClientReply& reply) {
  reply.text = text;
  if (text.size() < 5 || text[0] != static_cast<char>('0' + reply.code / 100) || text[1] != '.') return;
  const std::size_t subject = digit_run(text, 2);
  if (subject == 0 || 2 + subject >= text.size() || text[2 + subject] != '.') return;
  const std::size_t detail = digit_run(text, 3 + subject);
  const std::size_t end = 3 + subject + detail;
  if (detail == 0 || (end < text.size() && text[end] != ' ')) return;
  reply.enhanced = text.substr(0, end);
  reply.text = end < text.size() ? text.substr(end + 1) : std::string_view{};
}

// RFC 5321 §4.2 textstring: HT and printable ASCII. A reply's text goes into
// logs and into delivery status notifications (protocol/delivery_status.hpp),
// so text with any other octet (a bare CR, NUL, ESC, 8-bit) is not handed on.
bool is_textstring(std::string_view text) {
  for (const char c : text) {
    if (c != '\t' && (ascii::is_control(c) || ascii::is_non_ascii(c))) return false;
  }
  return true;
}

std::uint32_t parse_size(std::string_view text) {
  std::uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c) || value > UINT32_MAX) return 0;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value > UINT32_MAX ? 0 : static_cast<std::uint32_t>(value);
}

}  // namespace

SmtpClient::SmtpClient(SmtpClientEvents& events, OutputBuffer& out,
                       const SmtpClientSettings& settings)
    : events_(events), out_(out), settings_(settings), scanner_(max_reply_line) {
  PIGEON_ASSERT(out.capacity() >= command_reserve_bytes);
}

std::size_t SmtpClient::feed(std::span<const std::uint8_t> input) {
  std::size_t consumed = 0;
  while (consumed < input.size()) {
    if (phase_ == Phase::tls_handshake || phase_ == Phase::done) break;
    // While idle the caller speaks next (send() or quit()). A reply read now
    // could only be unsolicited, and whether it came in the same segment as
    // the last one or after the caller's command must not change what it
    // means: it waits and is read as the answer to that command.
    if (phase_ == Phase::idle) break;
    // Every reply may need a command written in answer; keep room for it.
    if (out_.free_space() < command_reserve_bytes) break;
    const LineScan scan = scanner_.next_from(input, consumed);
    if (scan.kind == LineScan::Kind::need_more) break;
    if (scan.kind == LineScan::Kind::too_long) {
      fail_local(421, "4.5.0", "reply line from the server too long");
      break;
    }
    handle_line(scan.line);
  }
  pump();
  return consumed;
}

void SmtpClient::pump() {
  if (phase_ == Phase::transaction) write_pending_commands();
  if (phase_ == Phase::body) write_body();
}

void SmtpClient::handle_line(std::string_view line) {
  const bool well_formed = line.size() >= 3 && is_digit(line[0]) && is_digit(line[1]) && is_digit(line[2]) &&
                           line[0] >= '2' && line[0] <= '5' && (line.size() == 3 || line[3] == ' ' || line[3] == '-');
  if (!well_formed) return fail_local(421, "4.5.0", "malformed reply from the server");
  const std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
  const bool continued = line.size() > 3 && line[3] == '-';
  // The first line of an EHLO answer is the greeting; each later one names an extension.
  if (phase_ == Phase::ehlo && !first_reply_line_ && line[0] == '2') note_capability(text);
  first_reply_line_ = !continued;
  if (continued) return;

  SmtpClientReply reply;
  reply.code = static_cast<std::uint16_t>((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
  split_enhanced(text, reply);
  if (!is_textstring(reply.text)) reply.text = "(reply text withheld: not printable ASCII)";
  handle_reply(reply);
}

void SmtpClient::handle_reply(const SmtpClientReply& reply) {
  // 421 may come at any time: the server is closing the connection (§3.8).
  if (reply.code == 421 && phase_ != Phase::quit) return fail(reply);
  switch (phase_) {
    case Phase::greeting: return on_greeting(reply);
    case Phase::ehlo: return on_ehlo(reply);
    case Phase::helo: return on_helo(reply);
    case Phase::starttls: return on_starttls(reply);
    case Phase::auth_login_user:
    case Phase::auth_login_password:
    case Phase::auth_result: return on_auth(reply);
    case Phase::transaction: return on_transaction_reply(reply);
    case Phase::data_end: return on_data_end(reply);
    case Phase::rset:
      if (!reply.positive()) return fail(reply);
      return become_idle();
    case Phase::quit: phase_ = Phase::done; return;
    case Phase::idle:
    case Phase::body:
    case Phase::tls_handshake:
    case Phase::done: return fail_local(421, "4.5.0", "unexpected reply from the server");
  }
}

void SmtpClient::on_greeting(const SmtpClientReply& reply) {
  if (reply.code != 220) return fail(reply);
  std::array<char, 300> command{};
  write_command(TextBuilder(command).text("EHLO ").text(settings_.helo_name).view());
  phase_ = Phase::ehlo;
}

void SmtpClient::on_ehlo(const SmtpClientReply& reply) {
  if (reply.code == 250) {
    capabilities_.extended = true;
    return after_ehlo();
  }
  if (!reply.permanent()) return fail(reply);
  // A server without ESMTP: fall back to HELO and use no extensions (§3.2).
  capabilities_ = {};
  std::array<char, 300> command{};
  write_command(TextBuilder(command).text("HELO ").text(settings_.helo_name).view());
  phase_ = Phase::helo;
}

void SmtpClient::on_helo(const SmtpClientReply& reply) {
  if (reply.code != 250) return fail(reply);
  after_ehlo();
}

void SmtpClient::note_capability(std::string_view keyword_line) {
  std::string_view rest = keyword_line;
  const std::string_view keyword = next_word(rest);
  if (iequals(keyword, "PIPELINING")) capabilities_.pipelining = true;
  if (iequals(keyword, "STARTTLS")) capabilities_.starttls = true;
  if (iequals(keyword, "8BITMIME")) capabilities_.eight_bit_mime = true;
  if (iequals(keyword, "SIZE")) {
    capabilities_.size = true;
    capabilities_.max_size_bytes = parse_size(next_word(rest));
  }
  if (iequals(keyword, "AUTH")) {
    for (std::string_view mechanism = next_word(rest); !mechanism.empty(); mechanism = next_word(rest)) {
      if (iequals(mechanism, "PLAIN")) capabilities_.auth_plain = true;
      if (iequals(mechanism, "LOGIN")) capabilities_.auth_login = true;
    }
  }
}

void SmtpClient::after_ehlo() {
  if (settings_.starttls && !settings_.tls_active) {
    // TLS is required: a server that does not offer it gets nothing, and
    // certainly not the message in plaintext.
    if (!capabilities_.starttls) return fail_local(454, "4.7.0", "smarthost does not offer STARTTLS");
    write_command("STARTTLS");
    phase_ = Phase::starttls;
    return;
  }
  if (!settings_.user.empty()) return start_auth();
  become_idle();
}

void SmtpClient::on_starttls(const SmtpClientReply& reply) {
  if (reply.code != 220) return fail(reply);
  phase_ = Phase::tls_handshake;
}

void SmtpClient::tls_started() {
  PIGEON_ASSERT(phase_ == Phase::tls_handshake);
  // RFC 3207 §4.2: everything learnt before the handshake is forgotten.
  settings_.tls_active = true;
  scanner_.reset();
  capabilities_ = {};
  first_reply_line_ = true;
  std::array<char, 300> command{};
  write_command(TextBuilder(command).text("EHLO ").text(settings_.helo_name).view());
  phase_ = Phase::ehlo;
}

void SmtpClient::start_auth() {
  // Credentials never travel in the clear.
  if (!settings_.tls_active) return fail_local(530, "5.7.0", "will not send credentials without TLS");
  if (capabilities_.auth_plain) {
    // RFC 4616: empty authzid, NUL, authcid, NUL, password.
    std::array<char, 600> message{};
    const std::string_view plain = TextBuilder(message)
                                       .character('\0')
                                       .text(settings_.user)
                                       .character('\0')
                                       .text(settings_.password)
                                       .view();
    std::array<char, command_reserve_bytes - 16> encoded{};
    const auto length = base64::encode(
        {reinterpret_cast<const std::uint8_t*>(plain.data()), plain.size()}, encoded);
    if (plain.empty() || !length) return fail_local(530, "5.7.0", "credentials too long");
    std::array<char, command_reserve_bytes> command{};
    write_command(TextBuilder(command).text("AUTH PLAIN ").text({encoded.data(), *length}).view());
    phase_ = Phase::auth_result;
    return;
  }
  if (capabilities_.auth_login) {
    write_command("AUTH LOGIN");
    phase_ = Phase::auth_login_user;
    return;
  }
  fail_local(530, "5.7.0", "smarthost offers neither AUTH PLAIN nor AUTH LOGIN");
}

void SmtpClient::on_auth(const SmtpClientReply& reply) {
  if (phase_ == Phase::auth_result) {
    if (reply.code != 235) return fail(reply);
    return become_idle();
  }
  if (reply.code != 334) return fail(reply);
  const bool user_prompt = phase_ == Phase::auth_login_user;
  if (!write_auth_secret(user_prompt ? settings_.user : settings_.password)) {
    return fail_local(530, "5.7.0", "credentials too long");
  }
  phase_ = user_prompt ? Phase::auth_login_password : Phase::auth_result;
}

bool SmtpClient::write_auth_secret(std::string_view secret) {
  std::array<char, command_reserve_bytes> encoded{};
  const auto length =
      base64::encode({reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()}, encoded);
  return length && write_command({encoded.data(), *length});
}

void SmtpClient::become_idle() {
  phase_ = Phase::idle;
  if (message_.recipient_count == 0) return;
  // An RSET or the end of data closed a transaction.
  message_ = {};
  events_.transaction_finished();
}

void SmtpClient::send(const SmtpClientMessage& message) {
  PIGEON_ASSERT(phase_ == Phase::idle && message.recipient_count > 0 && message.recipient_count <= max_recipients);
  message_ = message;
  commands_written_ = replies_read_ = 0;
  mail_accepted_ = false;
  accepted_.reset();
  reported_.reset();
  body_offset_ = 0;
  body_done_ = false;
  body_piece_length_ = body_piece_used_ = 0;
  stuffer_.reset();
  if (!message_acceptable()) return become_idle();
  phase_ = Phase::transaction;
  write_pending_commands();
}

// Checks what the server said it cannot take, before sending anything.
bool SmtpClient::message_acceptable() {
  SmtpClientReply refusal{0, {}, {}, true};
  if (message_.body_8bit && !capabilities_.eight_bit_mime) {
    // RFC 6152 §3: without 8BITMIME an 8-bit body is returned, not sent.
    refusal = {554, "5.6.3", "8-bit message and the smarthost does not support 8BITMIME", true};
  } else if (capabilities_.max_size_bytes != 0 && message_.size_bytes > capabilities_.max_size_bytes) {
    refusal = {552, "5.3.4", "message larger than the smarthost accepts", true};
  } else {
    return true;
  }
  report_unreported(refusal);
  return false;
}

void SmtpClient::write_pending_commands() {
  const bool pipelined = capabilities_.pipelining && settings_.allow_pipelining;
  while (commands_written_ < transaction_commands()) {
    if (!pipelined && commands_written_ > replies_read_) break;
    if (!write_transaction_command(commands_written_)) break;
    ++commands_written_;
  }
}

bool SmtpClient::write_transaction_command(std::size_t index) {
  std::array<char, 600> command{};
  TextBuilder builder(command);
  if (index == 0) {
    builder.text("MAIL FROM:<").text(message_.reverse_path).text(">");
    // SIZE= only to a server that knows the extension (RFC 1870 §6).
    if (capabilities_.size) builder.text(" SIZE=").number(message_.size_bytes);
    if (message_.body_8bit) builder.text(" BODY=8BITMIME");
  } else if (index <= message_.recipient_count) {
    std::array<char, max_path_bytes> address{};
    const std::optional<std::string_view> recipient = events_.recipient_address(index - 1, address);
    if (!recipient) {
      fail_local(451, "4.3.0", "recipient address unreadable");
      return false;
    }
    builder.text("RCPT TO:<").text(*recipient).text(">");
  } else {
    builder.text("DATA");
  }
  if (out_.free_space() < builder.view().size() + 2) return false;
  return write_command(builder.view());
}

bool SmtpClient::write_command(std::string_view command) {
  if (out_.free_space() < command.size() + 2) return false;
  out_.append(command);
  out_.append(std::string_view("\r\n"));
  return true;
}

void SmtpClient::on_transaction_reply(const SmtpClientReply& reply) {
  const std::size_t index = replies_read_++;
  const std::size_t recipient_count = message_.recipient_count;
  const bool pipelined = capabilities_.pipelining && settings_.allow_pipelining;
  if (index == 0) {
    mail_accepted_ = reply.positive();
    if (!mail_accepted_) report_unreported(reply);
  } else if (index <= recipient_count) {
    if (mail_accepted_ && reply.positive()) {
      accepted_.set(index - 1);
    } else {
      report(index - 1, reply);
    }
  } else {
    return on_data_reply(reply);
  }
  // Without PIPELINING the next command waits for this answer, and a
  // transaction that cannot succeed stops here.
  if (!pipelined && (!mail_accepted_ || (index == recipient_count && accepted_.none()))) {
    return end_transaction();
  }
  write_pending_commands();
}

void SmtpClient::on_data_reply(const SmtpClientReply& reply) {
  if (reply.code != 354) {
    report_unreported(reply);
    return end_transaction();
  }
  // A server that says 354 with no valid recipient still needs the end of
  // data (RFC 2920 §3.1); send it with no body.
  body_done_ = accepted_.none();
  phase_ = Phase::body;
  write_body();
}

void SmtpClient::write_body() {
  while (!body_done_) {
    if (body_piece_used_ == body_piece_length_) {
      const std::optional<std::size_t> read = events_.read_body(body_offset_, body_piece_);
      body_piece_length_ = read.value_or(0);
      body_piece_used_ = 0;
      if (body_piece_length_ == 0) {
        // A body that cannot be read, or is shorter than announced: never
        // end the data, so the server cannot take a truncated message.
        if (!read || body_offset_ != message_.size_bytes) return fail_local(451, "4.3.0", "message body unreadable");
        body_done_ = true;
        break;
      }
      body_offset_ += static_cast<std::uint32_t>(body_piece_length_);
    }
    const auto piece = std::span(body_piece_).subspan(body_piece_used_, body_piece_length_ - body_piece_used_);
    const std::size_t taken = stuffer_.write(piece, out_);
    body_piece_used_ += taken;
    if (taken == 0) return;  // the output is full; pump() continues
  }
  if (stuffer_.finish(out_)) phase_ = Phase::data_end;
}

void SmtpClient::on_data_end(const SmtpClientReply& reply) {
  report_unreported(reply);  // every accepted recipient gets the final answer
  become_idle();
}

void SmtpClient::report_unreported(const SmtpClientReply& reply) {
  for (std::size_t i = 0; i < message_.recipient_count; ++i) report(i, reply);
}

void SmtpClient::report(std::size_t index, const SmtpClientReply& reply) {
  if (reported_.test(index)) return;
  reported_.set(index);
  events_.recipient_result(index, reply);
}

void SmtpClient::end_transaction() {
  // A transaction the server opened (MAIL accepted) is closed explicitly, so
  // that the next MAIL is not nested.
  if (!mail_accepted_) return become_idle();
  write_command("RSET");
  phase_ = Phase::rset;
}

void SmtpClient::quit() {
  PIGEON_ASSERT(phase_ == Phase::idle);
  write_command("QUIT");
  phase_ = Phase::quit;
}

void SmtpClient::fail(const SmtpClientReply& reply) {
  phase_ = Phase::done;
  events_.session_failed(reply);
}

void SmtpClient::fail_local(std::uint16_t code, std::string_view enhanced, std::string_view text) {
  fail({code, enhanced, text, true});
}

SmtpClient::Wait SmtpClient::waiting_for() const {
  switch (phase_) {
    case Phase::greeting: return Wait::greeting;
    case Phase::ehlo:
    case Phase::helo: return Wait::ehlo;
    case Phase::starttls: return Wait::starttls;
    case Phase::tls_handshake: return Wait::tls_handshake;
    case Phase::auth_login_user:
    case Phase::auth_login_password:
    case Phase::auth_result: return Wait::auth;
    case Phase::idle: return Wait::idle;
    case Phase::transaction:
      if (replies_read_ == 0) return Wait::mail;
      return replies_read_ <= message_.recipient_count ? Wait::rcpt : Wait::data;
    case Phase::body: return Wait::data_block;
    case Phase::data_end: return Wait::data_end;
    case Phase::rset: return Wait::rset;
    case Phase::quit: return Wait::quit;
    case Phase::done: return Wait::done;
  }
  return Wait::done;
}

}  // namespace pigeon::protocol
