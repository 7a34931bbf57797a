#include "smtp_server.hpp"

#include <algorithm>
#include <cstring>

#include "ascii.hpp"
#include "base64.hpp"
#include "assert.hpp"
#include "domain_syntax.hpp"
#include "mailbox_address.hpp"
#include "sasl.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol {
namespace {

// RFC 5321 §4.5.3.1: 512 octets for a command line, 998 + CRLF for a text
// line. SASL responses (RFC 4954 §4) may be longer than a command.
constexpr std::size_t max_command_line = 512;
constexpr std::size_t max_sasl_line = 1024;
constexpr std::uint32_t max_text_line = 998;

// The longest reply line reply() writes: code, enhanced code and the texts the
// engine and its policy give, which are short (the greeting has the host name).
constexpr std::size_t max_reply_line = 512;

// EHLO's reply (RFC 5321 §4.1.1.1) and its longest case, which the reserve of
// output space every command gets must hold.
constexpr std::string_view ehlo_greets = " greets ";
constexpr std::size_t max_ehlo_first_line =
    4 + SmtpServer::max_host_name_bytes + ehlo_greets.size() + SmtpServer::max_host_name_bytes + 2;
constexpr std::string_view ehlo_pipelining = "250-PIPELINING\r\n";
constexpr std::string_view ehlo_size = "250-SIZE ";
constexpr std::size_t max_ehlo_size_line = ehlo_size.size() + 10 + 2;  // a 32-bit number of octets
constexpr std::string_view ehlo_8bit_enhanced = "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n";
constexpr std::string_view ehlo_starttls = "250-STARTTLS\r\n";
constexpr std::string_view ehlo_auth = "250-AUTH PLAIN LOGIN\r\n";
constexpr std::string_view ehlo_last = "250 HELP\r\n";
constexpr std::size_t max_ehlo_reply = max_ehlo_first_line + ehlo_pipelining.size() + max_ehlo_size_line +
                                       ehlo_8bit_enhanced.size() + ehlo_starttls.size() + ehlo_auth.size() +
                                       ehlo_last.size();
static_assert(max_ehlo_first_line == 524);
static_assert(SmtpServer::reply_reserve_bytes >= max_ehlo_reply);
static_assert(SmtpServer::reply_reserve_bytes >= max_reply_line);

using ascii::iequals;
using ascii::istarts_with;
using ascii::next_word;
using ascii::parse_u32;
using ascii::trim;

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::size_t copy_into(std::span<char> out, std::string_view text) {
  const std::size_t length = std::min(out.size(), text.size());
  std::memcpy(out.data(), text.data(), length);
  return length;
}

}  // namespace

SmtpServer::SmtpServer(SmtpServerPolicy& policy, OutputBuffer& out,
                       const SmtpServerSettings& settings)
    : policy_(policy), out_(out), settings_(settings), scanner_(max_sasl_line) {}

void SmtpServer::start() {
  std::array<char, 300> text{};
  reply(220, {}, TextBuilder(text).text(settings_.host_name).text(" ESMTP pigeon ready").view());
}

// feed() keeps reply_reserve_bytes free before each command, and a command
// gets one reply, so the reply always fits.
void SmtpServer::reply(std::uint16_t code, std::string_view enhanced, std::string_view text) {
  const bool fits = try_reply({code, enhanced, text});
  PIGEON_ASSERT(fits);
}

bool SmtpServer::try_reply(const SmtpReply& r) {
  std::array<char, max_reply_line> line{};
  TextBuilder builder(line);
  builder.number(r.code).character(' ');
  if (!r.enhanced.empty()) builder.text(r.enhanced).character(' ');
  builder.text(r.text).text("\r\n");
  return builder.ok() && out_.append(builder.view());
}

// An empty `text` is a line that did not fit its TextBuilder.
void SmtpServer::append(std::string_view text) {
  const bool fits = !text.empty() && out_.append(text);
  PIGEON_ASSERT(fits);
}

bool SmtpServer::awaiting_decision() const { return phase_ == Phase::awaiting_decision; }
bool SmtpServer::awaiting_tls() const { return phase_ == Phase::awaiting_tls; }
bool SmtpServer::finished() const { return phase_ == Phase::finished; }

std::size_t SmtpServer::feed(std::span<const std::uint8_t> input) {
  std::size_t consumed = 0;
  while (consumed < input.size()) {
    if (phase_ == Phase::awaiting_decision || phase_ == Phase::awaiting_tls || phase_ == Phase::finished) break;
    if (phase_ == Phase::data) {
      if (out_.free_space() < reply_reserve_bytes) break;
      consumed += scan_data(input.subspan(consumed));
      continue;
    }
    if (out_.free_space() < reply_reserve_bytes) break;
    const LineScan scan = scanner_.next_from(input, consumed);
    if (scan.kind == LineScan::Kind::need_more) break;
    if (scan.kind == LineScan::Kind::too_long) {
      on_line_too_long();
      continue;
    }
    handle_line(scan.line);
  }
  return consumed;
}

// An overlong line inside an AUTH exchange ends the exchange with RFC 4954
// §6's own code; elsewhere it is a command syntax error.
void SmtpServer::on_line_too_long() {
  if (phase_ == Phase::command) return reply(500, "5.5.2", "Line too long");
  phase_ = Phase::command;
  reply(500, "5.5.6", "Authentication Exchange line is too long");
}

void SmtpServer::handle_line(std::string_view line) {
  switch (phase_) {
    case Phase::command: handle_command(line); break;
    case Phase::auth_plain_response:
    case Phase::auth_login_username:
    case Phase::auth_login_password: handle_auth_response(line); break;
    default: break;
  }
}

void SmtpServer::handle_command(std::string_view line) {
  if (line.size() + 2 > max_command_line) {
    reply(500, "5.5.2", "Line too long");
    return;
  }
  std::string_view argument = line;
  const std::string_view verb = next_word(argument);
  if (iequals(verb, "EHLO")) return on_ehlo(argument, true);
  if (iequals(verb, "HELO")) return on_ehlo(argument, false);
  if (iequals(verb, "MAIL")) return on_mail(argument);
  if (iequals(verb, "RCPT")) return on_rcpt(argument);
  if (iequals(verb, "DATA")) return on_data(argument);
  if (iequals(verb, "RSET")) return on_rset();
  if (iequals(verb, "NOOP")) return reply(250, "2.0.0", "OK");
  if (iequals(verb, "QUIT")) {
    reply(221, "2.0.0", "Bye");
    reset_transaction();
    phase_ = Phase::finished;
    return;
  }
  if (iequals(verb, "VRFY")) return reply(252, "2.5.0", "Cannot VRFY user, but will accept message");
  if (iequals(verb, "HELP")) return reply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
  if (iequals(verb, "STARTTLS")) return on_starttls(argument);
  if (iequals(verb, "AUTH")) return on_auth(argument);
  if (iequals(verb, "EXPN")) return reply(502, "5.5.1", "Command not implemented");
  reply(500, "5.5.1", "Command unrecognized");
}

void SmtpServer::on_ehlo(std::string_view argument, bool extended) {
  argument = trim(argument);
  if (argument.empty() || argument.find(' ') != std::string_view::npos) {
    return reply(501, "5.5.4", "Syntax: EHLO hostname");
  }
  // The name goes into the Received header: docs/security.md says what passes.
  if (!is_client_domain(argument)) return reply(501, "5.5.2", "Syntax: EHLO domain or address literal");
  reset_transaction();
  greeted_ = true;
  client_name_length_ = copy_into(client_name_, argument);
  std::array<char, max_ehlo_first_line> line{};
  append(TextBuilder(line)
             .text(extended ? "250-" : "250 ")
             .text(settings_.host_name)
             .text(ehlo_greets)
             .text(client_name())
             .text("\r\n")
             .view());
  if (!extended) return;
  append(ehlo_pipelining);
  append(TextBuilder(line).text(ehlo_size).number(settings_.max_message_bytes).text("\r\n").view());
  append(ehlo_8bit_enhanced);
  if (settings_.starttls_offered && !settings_.tls_active) append(ehlo_starttls);
  if (settings_.auth_offered && (settings_.tls_active || !settings_.auth_requires_tls)) append(ehlo_auth);
  append(ehlo_last);
}

// Submission takes mail only from authenticated users, and AUTH only under TLS.
bool SmtpServer::mail_allowed() {
  if (!settings_.auth_required || authenticated_) return true;
  if (settings_.auth_requires_tls && !settings_.tls_active) {
    reply(530, "5.7.0", "Must issue a STARTTLS command first");
  } else {
    reply(530, "5.7.0", "Authentication required");
  }
  return false;
}

void SmtpServer::on_mail(std::string_view argument) {
  if (!greeted_) return reply(503, "5.5.1", "Send EHLO or HELO first");
  if (mail_given_) return reply(503, "5.5.1", "Nested MAIL command");
  if (!mail_allowed()) return;
  if (!istarts_with(argument, "FROM:")) return reply(501, "5.5.4", "Syntax: MAIL FROM:<address>");
  std::string_view parameters;
  const auto path = parse_path(trim(argument.substr(5)), parameters);
  if (!path) return reply(501, "5.1.7", "Bad sender address syntax");
  MailParameters params;
  for (auto word = next_word(parameters); !word.empty(); word = next_word(parameters)) {
    if (istarts_with(word, "SIZE=")) {
      const auto size = parse_u32(word.substr(5));
      if (!size) return reply(501, "5.5.4", "Bad SIZE parameter");
      params.declared_size_bytes = *size;
    } else if (iequals(word, "BODY=8BITMIME")) {
      params.body_8bit = true;
    } else if (iequals(word, "BODY=7BIT") || istarts_with(word, "AUTH=")) {
      // 7BIT is the default; AUTH= (RFC 4954 §5) is accepted and not used.
    } else {
      return reply(555, "5.5.4", "Unsupported MAIL parameter");
    }
  }
  if (params.declared_size_bytes > settings_.max_message_bytes) {
    return reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
  }
  apply(Step::mail, policy_.mail_from(path->path, params));
}

void SmtpServer::on_rcpt(std::string_view argument) {
  if (!mail_given_) return reply(503, "5.5.1", "Need MAIL before RCPT");
  if (!istarts_with(argument, "TO:")) return reply(501, "5.5.4", "Syntax: RCPT TO:<address>");
  std::string_view parameters;
  const auto path = parse_forward_path(trim(argument.substr(3)), parameters);
  if (!path || path->path.empty()) return reply(501, "5.1.3", "Bad recipient address syntax");
  if (!trim(parameters).empty()) return reply(555, "5.5.4", "Unsupported RCPT parameter");
  if (recipient_count_ >= settings_.max_recipients) return reply(452, "4.5.3", "Too many recipients");
  apply(Step::rcpt, policy_.rcpt_to(path->path));
}

void SmtpServer::on_data(std::string_view argument) {
  if (!trim(argument).empty()) return reply(501, "5.5.4", "Syntax: DATA");
  if (!mail_given_) return reply(503, "5.5.1", "Need MAIL before DATA");
  if (recipient_count_ == 0) return reply(503, "5.5.1", "Need RCPT before DATA");
  apply(Step::data_begin, policy_.data_begin());
}

void SmtpServer::on_rset() {
  reset_transaction();
  reply(250, "2.0.0", "OK");
}

void SmtpServer::on_starttls(std::string_view argument) {
  if (!trim(argument).empty()) return reply(501, "5.5.4", "Syntax: STARTTLS");
  if (settings_.tls_active) return reply(503, "5.5.1", "TLS already active");
  if (!settings_.starttls_offered) return reply(454, "4.7.0", "TLS not available");
  if (!policy_.reserve_tls()) return reply(454, "4.7.0", "TLS not available now, try again later");
  reply(220, "2.0.0", "Ready to start TLS");
  phase_ = Phase::awaiting_tls;
}

void SmtpServer::tls_started() {
  reset_session();
  settings_.tls_active = true;
  phase_ = Phase::command;
}

void SmtpServer::on_auth(std::string_view argument) {
  if (!settings_.auth_offered) return reply(502, "5.5.1", "AUTH not available");
  if (!greeted_) return reply(503, "5.5.1", "Send EHLO first");
  if (authenticated_) return reply(503, "5.5.1", "Already authenticated");
  if (mail_given_) return reply(503, "5.5.1", "AUTH not allowed during a mail transaction");
  if (settings_.auth_requires_tls && !settings_.tls_active) {
    return reply(530, "5.7.0", "Must issue a STARTTLS command first");
  }
  const std::string_view mechanism = next_word(argument);
  if (mechanism.empty()) return reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
  const std::string_view initial = trim(argument);
  if (iequals(mechanism, "PLAIN")) {
    if (initial.empty()) {
      phase_ = Phase::auth_plain_response;
      return reply(334, {}, "");
    }
    return finish_auth_plain(initial);
  }
  if (iequals(mechanism, "LOGIN")) {
    phase_ = Phase::auth_login_username;
    if (initial.empty()) return reply(334, {}, sasl_login_username_challenge);
    return handle_auth_response(initial);
  }
  reply(504, "5.5.4", "Unrecognized authentication mechanism");
}

void SmtpServer::handle_auth_response(std::string_view line) {
  const Phase phase = phase_;
  phase_ = Phase::command;
  if (is_sasl_cancel(line)) return reply(501, "5.0.0", "Authentication cancelled");
  if (phase == Phase::auth_plain_response) return finish_auth_plain(line);

  std::array<std::uint8_t, 256> decoded{};
  const auto length = base64::decode(line, decoded);
  if (!length || *length == 0) return reply(501, "5.5.2", "Invalid AUTH data");
  if (phase == Phase::auth_login_username) {
    pending_user_length_ = copy_into(pending_user_, as_text({decoded.data(), *length}));
    phase_ = Phase::auth_login_password;
    return reply(334, {}, sasl_login_password_challenge);
  }
  authenticate({}, {pending_user_.data(), pending_user_length_}, as_text({decoded.data(), *length}));
}

void SmtpServer::finish_auth_plain(std::string_view response) {
  std::array<std::uint8_t, max_sasl_plain_bytes> decoded{};
  const auto plain = decode_sasl_plain(response, decoded);
  if (!plain) return reply(501, "5.5.2", "Invalid AUTH data");
  pending_user_length_ = copy_into(pending_user_, plain->authcid);
  authenticate(plain->authzid, plain->authcid, plain->password);
}

void SmtpServer::authenticate(std::string_view authzid, std::string_view authcid, std::string_view password) {
  apply(Step::auth, policy_.authenticate(authzid, authcid, password));
}

void SmtpServer::apply(Step step, const SmtpDecision& decision) {
  switch (decision.kind) {
    case SmtpDecision::Kind::pending:
      pending_step_ = step;
      phase_ = Phase::awaiting_decision;
      return;
    case SmtpDecision::Kind::accept:
      phase_ = Phase::command;
      return on_success(step, decision.reply);
    case SmtpDecision::Kind::reject:
      phase_ = Phase::command;
      if (step == Step::data_end) reset_transaction();
      return reply(decision.reply);
  }
}

void SmtpServer::resume(const SmtpDecision& decision) {
  if (phase_ != Phase::awaiting_decision || decision.kind == SmtpDecision::Kind::pending) return;
  const Step step = pending_step_;
  pending_step_ = Step::none;
  apply(step, decision);
}

void SmtpServer::on_success(Step step, const SmtpReply& custom) {
  auto answer = [&](std::uint16_t code, std::string_view enhanced, std::string_view text) {
    reply(custom.code != 0 ? custom : SmtpReply{code, enhanced, text});
  };
  switch (step) {
    case Step::mail:
      mail_given_ = true;
      return answer(250, "2.1.0", "Sender OK");
    case Step::rcpt:
      ++recipient_count_;
      return answer(250, "2.1.5", "Recipient OK");
    case Step::data_begin:
      phase_ = Phase::data;
      data_state_ = DataState::line_start;
      data_bytes_ = line_bytes_ = 0;
      bad_line_ending_ = line_too_long_ = too_big_ = storage_failed_ = false;
      return answer(354, {}, "End data with <CR><LF>.<CR><LF>");
    case Step::data_end:
      reset_transaction();
      return answer(250, "2.0.0", "OK");
    case Step::auth:
      authenticated_ = true;
      user_length_ = copy_into(user_, {pending_user_.data(), pending_user_length_});
      return answer(235, "2.7.0", "Authentication successful");
    case Step::none: return;
  }
}

// Counts message bytes and passes them on unless the message is already
// refused. Bytes are counted even then, so that the size verdict does not
// depend on where the input was cut (a storage failure in an early piece must
// not hide that the message was too big).
void SmtpServer::emit_data(std::span<const std::uint8_t> bytes) {
  if (bytes.empty() || too_big_) return;
  if (bytes.size() > settings_.max_message_bytes - data_bytes_) {
    too_big_ = true;
    return;
  }
  data_bytes_ += static_cast<std::uint32_t>(bytes.size());
  if (bad_line_ending_ || line_too_long_ || storage_failed_) return;
  if (!policy_.data_chunk(bytes)) storage_failed_ = true;
}

// Scans DATA content. Only CRLF ends a line, and only CRLF "." CRLF ends the
// message: a bare CR or LF is never taken as a line end, so a message that
// hides a second transaction behind "<LF>.<LF>" or "<CR>.<CR>" (SMTP
// smuggling) is refused whole instead of being split differently by the next
// hop. Bytes go to the policy straight from `input`, cut around the dots that
// dot-stuffing added at line starts (RFC 5321 §4.5.2).
std::size_t SmtpServer::scan_data(std::span<const std::uint8_t> input) {
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < input.size(); ++i) {
    const std::uint8_t byte = input[i];
    switch (data_state_) {
      case DataState::dot:
        if (byte == '\r') {
          data_state_ = DataState::dot_cr;
          run_start = i + 1;  // held back: only "\r\n" may follow
          continue;
        }
        data_state_ = DataState::in_line;
        break;
      case DataState::dot_cr:
        if (byte == '\n') {
          end_of_data();
          return i + 1;
        }
        bad_line_ending_ = true;  // ".<CR>" not followed by <LF>
        data_state_ = DataState::in_line;
        break;
      case DataState::after_cr:
        if (byte == '\n') {
          data_state_ = DataState::line_start;
          line_bytes_ = 0;
          continue;
        }
        bad_line_ending_ = true;  // bare CR
        data_state_ = DataState::in_line;
        break;
      case DataState::line_start:
        if (byte == '.') {
          emit_data(input.subspan(run_start, i - run_start));
          run_start = i + 1;  // the stuffed (or terminating) dot is not message content
          data_state_ = DataState::dot;
          continue;
        }
        data_state_ = DataState::in_line;
        break;
      case DataState::in_line: break;
    }
    // Here `byte` is a content byte of the current line.
    if (byte == '\r') {
      data_state_ = DataState::after_cr;
      continue;
    }
    if (byte == '\n' || byte == 0) bad_line_ending_ = true;  // bare LF, or NUL
    if (++line_bytes_ > max_text_line) line_too_long_ = true;
  }
  if (data_state_ != DataState::dot_cr) emit_data(input.subspan(run_start));
  return input.size();
}

void SmtpServer::end_of_data() {
  phase_ = Phase::command;
  if (bad_line_ending_ || line_too_long_ || too_big_ || storage_failed_) {
    policy_.data_abort();
    const bool ending = bad_line_ending_;
    const bool long_line = line_too_long_;
    const bool big = too_big_;
    reset_transaction();
    if (ending) return reply(550, "5.6.0", "Message refused: bare CR, bare LF or NUL in content");
    if (long_line) return reply(500, "5.5.2", "Message refused: line longer than 998 octets");
    if (big) return reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
    return reply(policy_.storage_failure());
  }
  apply(Step::data_end, policy_.data_end());
}

// The reply is dropped when the output is full: a client that does not read
// its replies (the idle timeout's case) ends without it.
void SmtpServer::abort_session(SmtpReply r) {
  if (phase_ == Phase::data) policy_.data_abort();
  reset_transaction();
  try_reply(r);
  phase_ = Phase::finished;
}

void SmtpServer::reset_transaction() {
  if (mail_given_ || recipient_count_ != 0) policy_.transaction_reset();
  mail_given_ = false;
  recipient_count_ = 0;
}

// RFC 3207 §4.2: after TLS starts the server forgets everything it knew.
void SmtpServer::reset_session() {
  reset_transaction();
  greeted_ = false;
  authenticated_ = false;
  user_length_ = pending_user_length_ = client_name_length_ = 0;
  scanner_.reset();
}

}  // namespace pigeon::protocol
