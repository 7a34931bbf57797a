#include "pop3_server.hpp"

#include <algorithm>
#include <cstring>

#include "ascii.hpp"
#include "sasl.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol {
namespace {

// RFC 2449 §4: 255 octets for a command; SASL responses (RFC 5034) may be longer.
constexpr std::size_t max_line = 1024;
constexpr std::size_t max_command_line = 255;
// Output room one LIST/UIDL line needs.
constexpr std::size_t listing_line_bytes = 96;
// A message piece is read only into at least this much free output space:
// with less, the output drains first.
constexpr std::size_t min_message_piece_bytes = 64;

using ascii::iequals;
using ascii::next_word;
using ascii::parse_u32;

}  // namespace

Pop3Server::Pop3Server(Pop3ServerPolicy& policy, OutputBuffer& out,
                       const Pop3ServerSettings& settings)
    : policy_(policy), out_(out), settings_(settings), scanner_(max_line), deleted_(settings.deletion_marks) {
  settings_.max_messages = std::min(settings_.max_messages, deleted_.size());
}

void Pop3Server::start() {
  std::array<char, 300> text{};
  ok(TextBuilder(text).text(settings_.host_name).text(" POP3 pigeon ready").view());
}

bool Pop3Server::awaiting_decision() const { return wait_ == Wait::decision; }
bool Pop3Server::streaming() const { return listing_ != Listing::none; }
bool Pop3Server::awaiting_tls() const { return wait_ == Wait::tls; }
bool Pop3Server::finished() const { return state_ == State::finished; }

void Pop3Server::ok(std::string_view text) {
  std::array<char, reply_reserve_bytes> line{};
  TextBuilder builder(line);
  builder.text("+OK");
  if (!text.empty()) builder.character(' ').text(text);
  out_.append(builder.text("\r\n").view());
}

void Pop3Server::error(std::string_view code, std::string_view text) {
  std::array<char, reply_reserve_bytes> line{};
  TextBuilder builder(line);
  builder.text("-ERR ");
  if (!code.empty()) builder.character('[').text(code).text("] ");
  out_.append(builder.text(text).text("\r\n").view());
}

std::size_t Pop3Server::feed(std::span<const std::uint8_t> input) {
  std::size_t consumed = 0;
  while (consumed < input.size() && state_ != State::finished && wait_ != Wait::decision &&
         wait_ != Wait::tls && listing_ == Listing::none && out_.free_space() >= reply_reserve_bytes) {
    const LineScan scan = scanner_.next_from(input, consumed);
    if (scan.kind == LineScan::Kind::need_more) break;
    if (scan.kind == LineScan::Kind::too_long) {
      wait_ = Wait::none;
      error({}, "Line too long");
      continue;
    }
    handle_line(scan.line);
  }
  return consumed;
}

void Pop3Server::handle_line(std::string_view line) {
  if (wait_ == Wait::auth_plain_response) {
    wait_ = Wait::none;
    if (is_sasl_cancel(line)) return error({}, "Authentication cancelled");
    return finish_auth_plain(line);
  }
  if (line.size() + 2 > max_command_line) return error({}, "Line too long");
  std::string_view argument = line;
  const std::string_view verb = next_word(argument);
  if (iequals(verb, "CAPA")) return on_capa();
  if (iequals(verb, "QUIT")) return on_quit();
  if (state_ == State::authorization) return handle_authorization(verb, argument);
  handle_transaction(verb, argument);
}

void Pop3Server::on_capa() {
  const bool login_allowed = settings_.tls_active || !settings_.login_requires_tls;
  out_.append("+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
  if (state_ == State::authorization && login_allowed) out_.append("USER\r\nSASL PLAIN\r\n");
  if (state_ == State::authorization && settings_.stls_offered && !settings_.tls_active) out_.append("STLS\r\n");
  out_.append("IMPLEMENTATION pigeon\r\n.\r\n");
}

void Pop3Server::handle_authorization(std::string_view verb, std::string_view argument) {
  const bool login_verb = iequals(verb, "USER") || iequals(verb, "PASS") || iequals(verb, "AUTH");
  if (login_verb && settings_.login_requires_tls && !settings_.tls_active) {
    return error("AUTH", "Login only after STLS");
  }
  if (iequals(verb, "USER")) {
    const std::string_view name = next_word(argument);
    if (name.empty() || name.size() > user_.size()) return error({}, "Syntax: USER name");
    std::memcpy(user_.data(), name.data(), name.size());
    user_length_ = name.size();
    return ok("Send PASS");
  }
  if (iequals(verb, "PASS")) {
    if (user_length_ == 0) return error({}, "USER first");
    if (argument.empty()) return error({}, "Syntax: PASS password");
    // The password is the rest of the line: it may contain spaces (RFC 1939 §7).
    return begin_login({}, {user_.data(), user_length_}, argument);
  }
  if (iequals(verb, "AUTH")) return on_auth(argument);
  if (iequals(verb, "STLS")) {
    if (settings_.tls_active) return error({}, "Already using TLS");
    if (!settings_.stls_offered) return error({}, "STLS not available");
    if (!policy_.reserve_tls()) return error("SYS/TEMP", "TLS not available now, try again later");
    ok("Begin TLS negotiation");
    wait_ = Wait::tls;
    return;
  }
  error({}, "Command not valid before login");
}

void Pop3Server::on_auth(std::string_view argument) {
  const std::string_view mechanism = next_word(argument);
  if (mechanism.empty()) return error({}, "Syntax: AUTH mechanism");
  if (!iequals(mechanism, "PLAIN")) return error({}, "Unsupported SASL mechanism");
  const std::string_view initial = next_word(argument);
  if (initial.empty()) {
    out_.append("+ \r\n");
    wait_ = Wait::auth_plain_response;
    return;
  }
  finish_auth_plain(initial);
}

void Pop3Server::finish_auth_plain(std::string_view response) {
  std::array<std::uint8_t, max_sasl_plain_bytes> decoded{};
  const auto plain = decode_sasl_plain(response, decoded);
  if (!plain) return error({}, "Invalid AUTH data");
  begin_login(plain->authzid, plain->authcid, plain->password);
}

void Pop3Server::begin_login(std::string_view authzid, std::string_view user, std::string_view password) {
  wait_ = Wait::decision;
  const Pop3Decision decision = policy_.login(authzid, user, password);
  if (decision.kind != Pop3Decision::Kind::pending) resume(decision);
}

void Pop3Server::resume(const Pop3Decision& decision) {
  if (wait_ != Wait::decision || decision.kind == Pop3Decision::Kind::pending) return;
  wait_ = Wait::none;
  const bool accepted = decision.kind == Pop3Decision::Kind::accept;
  if (state_ == State::transaction) {
    // The answer to QUIT's UPDATE state (RFC 1939 §6).
    state_ = State::finished;
    if (accepted) return ok("Bye");
    return error(decision.response_code, decision.text);
  }
  user_length_ = 0;
  if (!accepted) return error(decision.response_code, decision.text);
  state_ = State::transaction;
  deleted_.reset();
  std::array<char, 64> text{};
  ok(TextBuilder(text).text("Logged in, ").number(static_cast<std::int64_t>(visible_message_count())).text(" messages").view());
}

void Pop3Server::handle_transaction(std::string_view verb, std::string_view argument) {
  if (iequals(verb, "STAT")) return on_stat();
  if (iequals(verb, "LIST")) return on_list_or_uidl(argument, false);
  if (iequals(verb, "UIDL")) return on_list_or_uidl(argument, true);
  if (iequals(verb, "RETR")) return on_retr_or_top(argument, false);
  if (iequals(verb, "TOP")) return on_retr_or_top(argument, true);
  if (iequals(verb, "DELE")) return on_dele(argument);
  if (iequals(verb, "NOOP")) return ok({});
  if (iequals(verb, "RSET")) {
    deleted_.reset();
    return ok("Deletion marks removed");
  }
  if (iequals(verb, "STLS") || iequals(verb, "USER") || iequals(verb, "PASS") || iequals(verb, "AUTH")) {
    return error({}, "Already logged in");
  }
  error({}, "Unknown command");
}

// The session shows at most settings_.max_messages (the deletion marks' bound).
std::size_t Pop3Server::visible_message_count() {
  return std::min(policy_.message_count(), settings_.max_messages);
}

std::optional<std::size_t> Pop3Server::message_index(std::string_view argument) {
  const auto number = parse_u32(next_word(argument));
  const std::size_t count = visible_message_count();
  if (!number || *number == 0 || *number > count) {
    error({}, "No such message");
    return std::nullopt;
  }
  if (deleted_[*number - 1]) {
    error({}, "Message already deleted");
    return std::nullopt;
  }
  return *number - 1;
}

void Pop3Server::on_stat() {
  std::uint64_t count = 0, octets = 0;
  const std::size_t total = visible_message_count();
  for (std::size_t i = 0; i < total; ++i) {
    if (deleted_[i]) continue;
    ++count;
    octets += policy_.message_size_bytes(i);
  }
  std::array<char, 64> text{};
  ok(TextBuilder(text).number(static_cast<std::int64_t>(count)).character(' ').number(static_cast<std::int64_t>(octets)).view());
}

void Pop3Server::write_listing_line(std::size_t index) {
  std::array<char, listing_line_bytes> line{};
  TextBuilder builder(line);
  builder.number(static_cast<std::int64_t>(index + 1)).character(' ');
  if (listing_ == Listing::uidl) {
    builder.text(policy_.unique_id(index));
  } else {
    builder.number(policy_.message_size_bytes(index));
  }
  out_.append(builder.text("\r\n").view());
}

void Pop3Server::on_list_or_uidl(std::string_view argument, bool uidl) {
  const Listing kind = uidl ? Listing::uidl : Listing::list;
  if (!argument.empty()) {
    const auto index = message_index(argument);
    if (!index) return;
    out_.append("+OK ");
    listing_ = kind;  // write_listing_line() reads it
    write_listing_line(*index);
    listing_ = Listing::none;
    return;
  }
  ok(uidl ? "Unique-id listing follows" : "Scan listing follows");
  listing_ = kind;
  listing_index_ = 0;
  pump_listing();
}

void Pop3Server::pump_listing() {
  const std::size_t total = visible_message_count();
  while (listing_index_ < total && out_.free_space() >= listing_line_bytes) {
    if (!deleted_[listing_index_]) write_listing_line(listing_index_);
    ++listing_index_;
  }
  if (listing_index_ == total && out_.append(".\r\n")) listing_ = Listing::none;
}

void Pop3Server::on_retr_or_top(std::string_view argument, bool top) {
  const std::string_view number = next_word(argument);
  std::uint32_t lines = 0;
  if (top) {
    const auto parsed = parse_u32(next_word(argument));
    if (!parsed) return error({}, "Syntax: TOP message lines");
    lines = *parsed;
  }
  const auto index = message_index(number);
  if (!index) return;
  std::array<char, 64> text{};
  ok(TextBuilder(text).number(policy_.message_size_bytes(*index)).text(" octets").view());
  listing_ = Listing::message;
  listing_index_ = *index;
  message_offset_ = 0;
  top_ = top;
  top_lines_ = TopLines{.body_lines_left = lines};
  stuffer_.reset();
  pump_message();
}

void Pop3Server::pump() {
  if (listing_ == Listing::message) return pump_message();
  if (listing_ != Listing::none) pump_listing();
}

// Streams the message in pieces as big as the free output space allows. What
// the stuffer could not fit (a stuffed dot takes two bytes) is read again next
// time. (Pieces sized for the worst case, every byte a dot, were half the free
// space: twelve reads of shrinking size filled the buffer once.) TOP stops
// after the headers and the asked-for lines.
void Pop3Server::pump_message() {
  std::array<std::uint8_t, 512> piece{};
  for (;;) {
    const std::size_t room = std::min(piece.size(), out_.free_space());
    if (room < min_message_piece_bytes) return;  // the output drains first
    const std::optional<std::size_t> read = policy_.read_message(listing_index_, message_offset_, {piece.data(), room});
    if (!read) return abandon_message();
    const std::span<const std::uint8_t> got(piece.data(), *read);
    const TopLines top_before = top_lines_;
    const std::size_t length = top_ ? top_lines_.length(got) : got.size();
    const std::size_t taken = stuffer_.write(got.first(length), out_);
    message_offset_ += static_cast<std::uint32_t>(taken);
    if (taken < length) {
      if (top_) {
        top_lines_ = top_before;
        top_lines_.length(got.first(taken));
      }
      return;
    }
    const bool cut = top_ && (length < got.size() || top_lines_.done());
    if (got.empty() || cut) {
      if (stuffer_.finish(out_)) listing_ = Listing::none;
      return;
    }
  }
}

// The message cannot be read to its end. A terminating dot would make the
// client take what it got for the whole message: the error goes on a line of
// its own (when the output has room for it) and the session ends.
void Pop3Server::abandon_message() {
  out_.append("\r\n");
  abort_session("[SYS/TEMP] Message unreadable, try again later");
}

std::size_t Pop3Server::TopLines::length(std::span<const std::uint8_t> piece) {
  for (std::size_t i = 0; i < piece.size(); ++i) {
    if (done()) return i;
    const std::uint8_t byte = piece[i];
    if (byte == '\n') {
      if (!in_body && line_empty) {
        in_body = true;
      } else if (in_body) {
        --body_lines_left;
      }
      at_line_start = line_empty = true;
      continue;
    }
    at_line_start = false;
    if (byte != '\r') line_empty = false;
  }
  return piece.size();
}

void Pop3Server::on_dele(std::string_view argument) {
  const auto index = message_index(argument);
  if (!index) return;
  deleted_.set(*index);
  ok("Message deleted");
}

void Pop3Server::on_quit() {
  if (state_ != State::transaction) {
    state_ = State::finished;
    return ok("Bye");
  }
  wait_ = Wait::decision;
  const Pop3Decision decision = policy_.commit_deletions(deleted_);
  if (decision.kind != Pop3Decision::Kind::pending) resume(decision);
}

void Pop3Server::tls_started() {
  settings_.tls_active = true;
  wait_ = Wait::none;
  user_length_ = 0;
  scanner_.reset();
}

void Pop3Server::abort_session(std::string_view text) {
  error({}, text);
  if (state_ == State::transaction) policy_.release();
  state_ = State::finished;
  listing_ = Listing::none;
}

}  // namespace pigeon::protocol
