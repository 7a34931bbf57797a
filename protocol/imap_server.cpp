#include "imap_server.hpp"

#include <algorithm>
#include <cstring>

#include "ascii.hpp"
#include "assert.hpp"
#include "sasl.hpp"
#include "text_builder.hpp"

namespace pigeon::protocol {
namespace {

using ascii::iequals;
using imap::Cursor;

// Bytes of a message read from the policy at once.
constexpr std::size_t piece_bytes = 512;
// Output room a streamed piece leaves for what the header filter may add (a
// field name it held, the blank line).
constexpr std::size_t filter_slack_bytes = imap::HeaderFilter::max_name_bytes + 8;
// A HEADER.FIELDS list is echoed in the reply: it must fit in one.
constexpr std::size_t max_field_list_bytes = 200;
// Nesting of parentheses, NOT and OR in a SEARCH program.
constexpr int max_search_depth = 16;

constexpr std::string_view all_flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

struct FlagName {
  ImapFlag flag;
  std::string_view name;
};
constexpr std::array<FlagName, 5> flag_names{{{imap_answered, "\\Answered"},
                                              {imap_flagged, "\\Flagged"},
                                              {imap_deleted, "\\Deleted"},
                                              {imap_seen, "\\Seen"},
                                              {imap_draft, "\\Draft"}}};

std::string_view view_of(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// A literal's announcement at the end of a line: "{n}" or, non-synchronising
// (RFC 7888), "{n+}".
struct LiteralMarker {
  std::uint32_t length = 0;
  bool synchronising = true;
  bool countable = true;  // the length fits 32 bits (else `length` is the most that does)
};

std::optional<LiteralMarker> literal_marker(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  const std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  LiteralMarker marker;
  if (!digits.empty() && digits.back() == '+') {
    marker.synchronising = false;
    digits.remove_suffix(1);
  }
  const auto length = ascii::parse_u32(digits);
  if (!length) {
    // Digits that overflow still announce a literal: refused by its length.
    if (digits.empty() || !std::ranges::all_of(digits, ascii::is_digit)) return std::nullopt;
    marker.countable = false;
    marker.length = UINT32_MAX;
    return marker;
  }
  marker.length = *length;
  return marker;
}

// A string argument, its quoting undone into `buffer` when it was quoted.
std::optional<std::string_view> astring_argument(Cursor& arguments, std::span<char> buffer) {
  const bool quoted = arguments.peek() == '"';
  const auto value = arguments.astring();
  if (!value || !quoted) return value;
  return imap::unquote(*value, buffer);
}

std::optional<ImapFlags> flag_bits(std::string_view flag) {
  for (const FlagName& known : flag_names) {
    if (iequals(flag, known.name)) return known.flag;
  }
  return std::nullopt;
}

// Counts what the header filter passes, for a literal's length.
class CountingSink final : public imap::ByteSink {
 public:
  void put(std::span<const std::uint8_t> bytes) override { count += static_cast<std::uint32_t>(bytes.size()); }
  std::uint32_t count = 0;
};

// Passes the part of a section that lies in [begin, end) of it to the output.
class WindowSink final : public imap::ByteSink {
 public:
  WindowSink(OutputBuffer& out, std::uint32_t& position, std::uint32_t begin, std::uint32_t end)
      : out_(out), position_(position), begin_(begin), end_(end) {}
  void put(std::span<const std::uint8_t> bytes) override {
    const std::uint32_t first = position_;
    position_ += static_cast<std::uint32_t>(bytes.size());
    const std::uint32_t from = std::max(first, begin_);
    const std::uint32_t to = std::min(position_, end_);
    if (from < to) out_.append(bytes.subspan(from - first, to - from));
  }

 private:
  OutputBuffer& out_;
  std::uint32_t& position_;
  std::uint32_t begin_;
  std::uint32_t end_;
};

// Passes the header that begins at `begin` (the message's, or a part's) and
// ends by `end` at the latest through `filter` into `sink`; false when the
// message could not be read.
bool scan_header(ImapServerPolicy& policy, std::uint32_t index, imap::HeaderFilter& filter, imap::ByteSink& sink,
                 std::uint32_t begin = 0, std::uint32_t end = UINT32_MAX) {
  std::array<std::uint8_t, piece_bytes / 2> piece{};
  for (std::uint32_t offset = begin; !filter.done();) {
    const std::size_t wanted = std::min<std::size_t>(piece.size(), end - offset);
    const auto read = wanted == 0 ? std::optional<std::size_t>(0)
                                  : policy.read_message(index, offset, {piece.data(), wanted});
    if (!read) return false;
    if (*read == 0) {
      filter.finish(sink);
      break;
    }
    offset += static_cast<std::uint32_t>(filter.feed({piece.data(), *read}, sink));
  }
  return true;
}

// A stored message's header fields for ENVELOPE and BODYSTRUCTURE, each read
// by its own pass over the header.
class StoredHeaderFields final : public imap::HeaderFields {
 public:
  StoredHeaderFields(ImapServerPolicy& policy, std::uint32_t index) : policy_(policy), index_(index) {}
  bool read(imap::HeaderRange header, std::string_view name, imap::FieldValue& value) override {
    imap::HeaderFilter filter(imap::HeaderSelection::fields, name);
    return scan_header(policy_, index_, filter, value, header.begin, header.end);
  }

 private:
  ImapServerPolicy& policy_;
  std::uint32_t index_;
};

// Passes the message's bytes from `offset` to its end into `matcher`,
// stopping early once it found its text; false when they could not be read.
bool scan_rest(ImapServerPolicy& policy, std::uint32_t index, std::uint32_t offset, imap::TextMatcher& matcher) {
  std::array<std::uint8_t, piece_bytes / 2> piece{};
  while (!matcher.found()) {
    const auto read = policy.read_message(index, offset, piece);
    if (!read) return false;
    if (*read == 0) break;
    matcher.put({piece.data(), *read});
    offset += static_cast<std::uint32_t>(*read);
  }
  return true;
}

// What a LIST asks for besides its patterns (RFC 5258). Every mailbox is
// subscribed and none has children, so SUBSCRIBED selects them all, REMOTE
// and RECURSIVEMATCH change nothing, and CHILDREN's \HasNoChildren is
// always said.
struct ListOptions {
  bool special_use_only = false;
  bool subscribed = false;        // \Subscribed in the responses
  std::string_view status_items;  // RETURN (STATUS (items)), RFC 5819
};

// Calls `each(atom, cursor)` for the atoms of a parenthesised list's
// content (it may read an argument after one); false when they are not atoms
// separated by single spaces, or when `each` refuses one.
template <class Each>
bool for_each_atom(std::string_view list, Each each) {
  Cursor cursor(list);
  for (bool first = true; !cursor.at_end(); first = false) {
    const std::string_view atom = first || cursor.space() ? cursor.atom() : std::string_view{};
    if (atom.empty() || !each(atom, cursor)) return false;
  }
  return true;
}

// The selection options (RFC 5258 §3.1): what is wrong with them, empty
// when nothing.
std::string_view read_list_selection(std::string_view selection, ListOptions& options) {
  bool base = false;  // RECURSIVEMATCH needs an option to modify
  bool recursive = false;
  const bool known = for_each_atom(selection, [&](std::string_view option, Cursor&) {
    if (iequals(option, "SPECIAL-USE")) {
      options.special_use_only = base = true;
    } else if (iequals(option, "SUBSCRIBED")) {
      options.subscribed = base = true;
    } else if (iequals(option, "RECURSIVEMATCH")) {
      recursive = true;
    } else if (!iequals(option, "REMOTE")) {
      return false;
    }
    return true;
  });
  if (!known) return "Unsupported LIST selection option";
  return recursive && !base ? "RECURSIVEMATCH needs another selection option" : "";
}

// The return options (RFC 5258 §3.2, RFC 5819); STATUS's items are checked
// by the engine.
std::string_view read_list_return(std::string_view returns, ListOptions& options) {
  const bool known = for_each_atom(returns, [&](std::string_view option, Cursor& cursor) {
    if (iequals(option, "SUBSCRIBED")) {
      options.subscribed = true;
      return true;
    }
    if (iequals(option, "STATUS")) {
      const auto items = cursor.space() && cursor.peek() == '(' ? cursor.list() : std::nullopt;
      options.status_items = items.value_or(std::string_view{});
      return items.has_value();
    }
    return iequals(option, "SPECIAL-USE") || iequals(option, "CHILDREN");
  });
  return known ? "" : "Unsupported LIST return option";
}

// A LIST pattern: a string, or an atom with the wildcards.
std::optional<std::string_view> list_pattern(Cursor& cursor, std::span<char> buffer) {
  if (cursor.peek() == '"' || cursor.peek() == '{') return astring_argument(cursor, buffer);
  const std::string_view atom = cursor.list_pattern_atom();
  return atom.empty() ? std::nullopt : std::optional(atom);
}

// Whether reference + pattern names the mailbox; INBOX in any case.
bool list_pattern_matches(std::string_view reference, std::string_view pattern, std::string_view name) {
  std::array<char, 300> full_pattern{};
  const std::string_view wanted = TextBuilder(full_pattern).text(reference).text(pattern).view();
  if (!iequals(name, "INBOX")) return imap::pattern_matches(wanted, name);
  return imap::pattern_matches(wanted, "INBOX") || iequals(wanted, "INBOX");
}

}  // namespace

ImapServer::ImapServer(ImapServerPolicy& policy, OutputBuffer& out, const ImapServerSettings& settings)
    : policy_(policy), out_(out), settings_(settings) {}

bool ImapServer::awaiting_decision() const {
  return wait_ == Wait::login || wait_ == Wait::commit || wait_ == Wait::flags || wait_ == Wait::copy ||
         wait_ == Wait::append;
}
bool ImapServer::streaming() const { return job_ != Job::none; }
bool ImapServer::yielded() const { return yielded_ && job_ != Job::none; }
bool ImapServer::idling() const { return wait_ == Wait::idle; }
bool ImapServer::authenticated() const {
  return state_ == State::authenticated || state_ == State::selected;
}
bool ImapServer::awaiting_tls() const { return wait_ == Wait::tls; }
bool ImapServer::finished() const { return state_ == State::logout; }

// ---------------------------------------------------------------- replies

void ImapServer::untagged(std::string_view text) {
  std::array<char, reply_reserve_bytes> line{};
  out_.append(TextBuilder(line).text("* ").text(text).text("\r\n").view());
}

void ImapServer::tagged(std::string_view status, std::string_view code, std::string_view text) {
  std::array<char, reply_reserve_bytes> line{};
  TextBuilder builder(line);
  builder.text(tag_length_ == 0 ? "*" : std::string_view(tag_.data(), tag_length_)).character(' ').text(status);
  if (!code.empty()) builder.text(" [").text(code).character(']');
  out_.append(builder.character(' ').text(text).text("\r\n").view());
}

void ImapServer::write_flags(ImapFlags flags) {
  std::array<char, 64> text{};
  TextBuilder builder(text);
  builder.text("FLAGS (");
  bool first = true;
  for (const FlagName& known : flag_names) {
    if ((flags & known.flag) == 0) continue;
    if (!first) builder.character(' ');
    builder.text(known.name);
    first = false;
  }
  out_.append(builder.character(')').view());
}

void ImapServer::start() {
  out_.append("* OK [CAPABILITY ");
  on_capability();
  std::array<char, 300> rest{};
  out_.append(TextBuilder(rest).text("] ").text(settings_.host_name).text(" IMAP4rev1 pigeon ready\r\n").view());
}

// The capability list without "* CAPABILITY " and the line end: it is also
// the greeting's response code.
void ImapServer::on_capability() {
  out_.append(
      "IMAP4rev1 IMAP4rev2 LITERAL- SASL-IR ENABLE IDLE NAMESPACE ID UNSELECT UIDPLUS MOVE SPECIAL-USE ESEARCH "
      "SEARCHRES LIST-EXTENDED LIST-STATUS BINARY");
  if (authenticated()) return;
  const bool login_allowed = settings_.tls_active || !settings_.login_requires_tls;
  out_.append(login_allowed ? " AUTH=PLAIN" : " LOGINDISABLED");
  if (settings_.starttls_offered && !settings_.tls_active) out_.append(" STARTTLS");
}

// ---------------------------------------------------------------- input

std::size_t ImapServer::feed(std::span<const std::uint8_t> input) {
  std::size_t consumed = 0;
  while (consumed < input.size() && state_ != State::logout && !awaiting_decision() && wait_ != Wait::tls &&
         job_ == Job::none && out_.free_space() >= reply_reserve_bytes) {
    const auto rest = input.subspan(consumed);
    const bool literal = input_ == Input::literal || input_ == Input::append_literal || input_ == Input::skip_literal;
    consumed += literal ? take_literal_bytes(rest) : take_line_bytes(rest);
  }
  return consumed;
}

std::size_t ImapServer::take_literal_bytes(std::span<const std::uint8_t> input) {
  const std::size_t count = std::min<std::size_t>(literal_left_, input.size());
  if (input_ == Input::literal) {
    std::memcpy(command_.data() + command_length_, input.data(), count);
    command_length_ += count;
  }
  if (input_ == Input::append_literal && !append_failed_) append_failed_ = !policy_.append_data(input.first(count));
  literal_left_ -= static_cast<std::uint32_t>(count);
  if (literal_left_ != 0) return count;
  // What follows an APPEND's literal is the end of its line, kept to check.
  input_ = input_ == Input::skip_literal && append_ == Append::none ? Input::discard_line : Input::line;
  line_start_ = command_length_;
  return count;
}

// Stores a line of the command (or drops it, for a command that is over the
// bound) up to its LF; at the LF the line is complete.
std::size_t ImapServer::take_line_bytes(std::span<const std::uint8_t> input) {
  const auto newline = std::find(input.begin(), input.end(), std::uint8_t{'\n'});
  const bool complete = newline != input.end();
  const auto text = static_cast<std::size_t>(newline - input.begin());  // without the LF
  // Room is kept for the CRLF that ends the line in the buffer; a line over
  // the bound keeps its start (the tag) and is dropped from there on.
  const std::size_t room = command_.size() - 2 - std::min(command_.size() - 2, command_length_);
  const std::size_t stored = input_ == Input::line ? std::min(text, room) : 0;
  std::memcpy(command_.data() + command_length_, input.data(), stored);
  command_length_ += stored;
  if (stored < text) {
    input_ = Input::discard_line;
    command_too_long_ = true;
    keep_tail(view_of(input.subspan(stored, text - stored)));
  }
  if (!complete) return text;
  // The CR of the line end may have come in an earlier piece.
  if (command_too_long_ && tail_length_ > 0 && tail_[tail_length_ - 1] == '\r') --tail_length_;
  if (!command_too_long_ && command_length_ > line_start_ && command_[command_length_ - 1] == '\r') {
    --command_length_;
  }
  line_complete();
  return text + 1;
}

// A dropped line's last bytes, which may announce a literal.
void ImapServer::keep_tail(std::string_view dropped) {
  const std::size_t keep = std::min(dropped.size(), tail_.size());
  const std::size_t kept = std::min(tail_length_, tail_.size() - keep);
  std::memmove(tail_.data(), tail_.data() + tail_length_ - kept, kept);
  std::memcpy(tail_.data() + kept, dropped.data() + dropped.size() - keep, keep);
  tail_length_ = kept + keep;
}

void ImapServer::line_complete() {
  const std::string_view line(command_.data(), command_length_);
  if (wait_ == Wait::idle || wait_ == Wait::auth_plain_response) {
    const Wait waited = wait_;
    wait_ = Wait::none;
    reset_command();
    if (command_too_long_) {
      command_too_long_ = false;
      return bad("Line too long");
    }
    if (waited == Wait::auth_plain_response) {
      if (is_sasl_cancel(line)) return bad("Authentication cancelled");
      return finish_auth_plain(line);
    }
    if (!iequals(line, "DONE")) return bad("Expected DONE");
    return tagged_ok("IDLE terminated");
  }
  if (append_ != Append::none) return finish_append();
  if (literal_announced()) return;
  if (command_too_long_) {
    handle_command({});  // finds the tag, if it came, and refuses the command
    return;
  }
  handle_command(line);
}

// A line that ends in a literal's announcement continues after the literal.
bool ImapServer::literal_announced() {
  const auto marker = literal_marker(command_too_long_ ? std::string_view(tail_.data(), tail_length_)
                                                      : std::string_view(command_.data(), command_length_));
  tail_length_ = 0;
  if (!marker) return false;
  if (!marker->countable && !marker->synchronising) {
    // Its bytes cannot be counted off to find the next command, and taking
    // them for commands would answer the client's data (RFC 9051 §7.1.5).
    abort_session("[TOOBIG] Literal too long to skip, closing connection");
    return true;
  }
  if (!command_too_long_ && begin_append(marker->synchronising, marker->length)) return true;
  const bool fits = command_length_ + 2 + marker->length + 2 <= command_.size();
  if (!command_too_long_ && fits) {
    command_[command_length_++] = '\r';
    command_[command_length_++] = '\n';
    if (marker->synchronising) out_.append("+ Ready for literal data\r\n");
    input_ = marker->length == 0 ? Input::line : Input::literal;
    literal_left_ = marker->length;
    line_start_ = command_length_;
    return true;
  }
  command_too_long_ = true;
  if (marker->synchronising) {
    // The client waits for our word before it sends the literal: refusing
    // now keeps the stream in step (RFC 9051 §7.5).
    handle_command({});
    return true;
  }
  // The client sends it anyway: read it to its end, then refuse.
  input_ = marker->length == 0 ? Input::discard_line : Input::skip_literal;
  literal_left_ = marker->length;
  return true;
}

// An APPEND's literal is its message: it streams to the store instead of the
// command buffer. False when the command so far is not an APPEND in a state
// that allows one (then it is read and answered like any other command).
bool ImapServer::begin_append(bool synchronising, std::uint32_t length) {
  Cursor arguments({command_.data(), command_length_});
  const std::string_view tag = arguments.atom(true);
  if (!authenticated() || wait_ != Wait::none || tag.empty() || tag.size() > tag_.size() ||
      tag.find('+') != std::string_view::npos || !arguments.space() || !iequals(arguments.atom(), "APPEND") ||
      !arguments.space()) {
    return false;
  }
  tag_length_ = tag.size();
  std::memcpy(tag_.data(), tag.data(), tag.size());
  std::array<char, 256> name_buffer{};
  const auto name = astring_argument(arguments, name_buffer);
  if (!name || !arguments.space()) return refuse_append(synchronising, length, true, {}, "Syntax: APPEND mailbox [(flags)] [date-time] literal"), true;
  ImapFlags flags = 0;
  if (arguments.peek() == '(') {
    const auto list = arguments.list();
    Cursor flag_list(list.value_or(std::string_view{}));
    while (list && !flag_list.at_end()) {
      const bool system = flag_list.take('\\');
      const std::string_view flag = flag_list.atom();
      std::array<char, 80> flag_name{};
      const auto bits = system ? flag_bits(TextBuilder(flag_name).character('\\').text(flag).view()) : ImapFlags{0};
      if (flag.empty() || !bits || (!flag_list.at_end() && !flag_list.space())) {
        return refuse_append(synchronising, length, true, {}, "Invalid flag list"), true;
      }
      flags = static_cast<ImapFlags>(flags | *bits);
    }
    if (!list || !arguments.space()) return refuse_append(synchronising, length, true, {}, "Syntax: (flags)"), true;
  }
  // The date-time is accepted and not kept: the store records when the message came.
  if (arguments.peek() == '"' && (!arguments.string() || !arguments.space())) {
    return refuse_append(synchronising, length, true, {}, "Syntax: APPEND date-time"), true;
  }
  arguments.take('~');  // a literal8 (RFC 3516 §4.4): the message may hold any byte
  if (arguments.peek() != '{') return refuse_append(synchronising, length, true, {}, "Syntax: APPEND literal"), true;
  const auto mailbox = find_mailbox(*name);
  if (!mailbox) return refuse_append(synchronising, length, false, "TRYCREATE", "No such mailbox"), true;
  const ImapDecision decision = policy_.append_begin(*mailbox, length, flags);
  PIGEON_ASSERT(decision.kind != ImapDecision::Kind::pending);
  if (decision.kind != ImapDecision::Kind::accept) {
    return refuse_append(synchronising, length, false, decision.response_code, decision.text), true;
  }
  append_ = Append::streaming;
  append_failed_ = false;
  append_mailbox_ = *mailbox;
  if (synchronising) out_.append("+ Ready for literal data\r\n");
  input_ = Input::append_literal;
  literal_left_ = length;
  line_start_ = command_length_;
  if (length == 0) input_ = Input::line;
  return true;
}

// The client waits before a synchronising literal: it hears the refusal now.
// A non-synchronising one comes anyway: it is read and dropped first.
void ImapServer::refuse_append(bool synchronising, std::uint32_t length, bool syntax, std::string_view code,
                               std::string_view text) {
  if (synchronising) {
    reset_command();
    return tagged(syntax ? "BAD" : "NO", code, text);
  }
  append_ = Append::refused;
  append_refusal_bad_ = syntax;
  append_refusal_ = ImapDecision::rejected(code, text);
  input_ = length == 0 ? Input::line : Input::skip_literal;
  literal_left_ = length;
  line_start_ = command_length_;
}

// The line after the literal must end there (MULTIAPPEND is not offered).
void ImapServer::finish_append() {
  const bool line_ends = command_length_ == line_start_ && !command_too_long_;
  const Append append = append_;
  append_ = Append::none;
  reset_command();
  command_too_long_ = false;
  if (append == Append::refused) {
    return tagged(append_refusal_bad_ ? "BAD" : "NO", append_refusal_.response_code, append_refusal_.text);
  }
  const ImapDecision decision = policy_.append_end(line_ends && !append_failed_);
  if (!line_ends) return bad("Syntax: APPEND ends after its literal");
  wait_ = Wait::append;
  if (decision.kind != ImapDecision::Kind::pending) resume(decision);
}

void ImapServer::reset_command() {
  command_length_ = 0;
  line_start_ = 0;
  tail_length_ = 0;
  input_ = Input::line;
  literal_left_ = 0;
}

// ---------------------------------------------------------------- commands

// `command` is empty for one over the bound: only its tag is read, from the
// start of the buffer, and the answer is BAD.
void ImapServer::handle_command(std::string_view command) {
  const bool too_long = command_too_long_;
  Cursor arguments(too_long ? std::string_view(command_.data(), std::min<std::size_t>(command_length_, 64))
                            : command);
  reset_command();
  command_too_long_ = false;
  tag_length_ = 0;
  const std::string_view tag = arguments.atom(true);
  if (tag.empty() || tag.find('+') != std::string_view::npos || !arguments.space()) {
    return untagged(command.empty() && !too_long ? "BAD Empty command line" : "BAD Missing or invalid tag");
  }
  tag_length_ = std::min(tag.size(), tag_.size());
  std::memcpy(tag_.data(), tag.data(), tag_length_);
  if (tag.size() > tag_.size()) {
    tag_length_ = 0;
    return untagged("BAD Tag too long");
  }
  if (too_long) return tagged("BAD", "TOOBIG", "Command line or literal too long");
  const std::string_view name = arguments.atom();
  if (name.empty()) return bad("Missing command name");
  dispatch(name, arguments);
}

void ImapServer::dispatch(std::string_view name, Cursor& arguments) {
  if (any_state(name, arguments)) return;
  if (state_ == State::not_authenticated) {
    if (not_authenticated_state(name, arguments)) return;
  } else if (authenticated_state(name, arguments)) {
    return;
  } else if (iequals(name, "UID") && arguments.space()) {
    const std::string_view command = arguments.atom();
    if (state_ == State::selected && selected_state(command, arguments, true)) return;
  } else if (state_ == State::selected && selected_state(name, arguments, false)) {
    return;
  }
  static constexpr std::array<std::string_view, 24> known{
      "CAPABILITY", "NOOP", "LOGOUT", "ID", "STARTTLS", "LOGIN", "AUTHENTICATE", "ENABLE",
      "SELECT", "EXAMINE", "NAMESPACE", "LIST", "LSUB", "STATUS", "SUBSCRIBE", "UNSUBSCRIBE",
      "CREATE", "DELETE", "RENAME", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "IDLE"};
  static constexpr std::array<std::string_view, 6> selected_only{"FETCH", "STORE", "SEARCH", "UID", "COPY", "MOVE"};
  const auto is = [&name](std::string_view candidate) { return iequals(candidate, name); };
  if (std::any_of(known.begin(), known.end(), is) || std::any_of(selected_only.begin(), selected_only.end(), is)) {
    return bad("Command not valid in this state or arguments invalid");
  }
  bad("Unknown command");
}

bool ImapServer::any_state(std::string_view name, Cursor& arguments) {
  if (iequals(name, "CAPABILITY") && arguments.at_end()) {
    out_.append("* CAPABILITY ");
    on_capability();
    out_.append("\r\n");
    tagged_ok("CAPABILITY completed");
    return true;
  }
  if (iequals(name, "NOOP") && arguments.at_end()) {
    announce_changes();
    tagged_ok("NOOP completed");
    return true;
  }
  if (iequals(name, "LOGOUT") && arguments.at_end()) {
    untagged("BYE Logging out");
    tagged_ok("LOGOUT completed");
    if (authenticated()) {
      if (state_ == State::selected) policy_.unselect();
      policy_.release();
    }
    state_ = State::logout;
    return true;
  }
  if (iequals(name, "ID") && arguments.space()) {
    // The client's identification is accepted and not kept (RFC 2971).
    if (!arguments.list() && !iequals(arguments.atom(), "NIL")) return false;
    if (!arguments.at_end()) return false;
    untagged("ID (\"name\" \"pigeon\")");
    tagged_ok("ID completed");
    return true;
  }
  return false;
}

bool ImapServer::not_authenticated_state(std::string_view name, Cursor& arguments) {
  const bool login_allowed = settings_.tls_active || !settings_.login_requires_tls;
  if (iequals(name, "STARTTLS") && arguments.at_end()) {
    if (settings_.tls_active || !settings_.starttls_offered) {
      bad("STARTTLS not available");
      return true;
    }
    if (!policy_.reserve_tls()) {
      no("UNAVAILABLE", "TLS not available now, try again later");
      return true;
    }
    tagged_ok("Begin TLS negotiation now");
    wait_ = Wait::tls;
    return true;
  }
  const bool login = iequals(name, "LOGIN");
  if ((login || iequals(name, "AUTHENTICATE")) && arguments.space()) {
    if (!login_allowed) {
      no("PRIVACYREQUIRED", "Login only after STARTTLS");
      return true;
    }
    login ? on_login(arguments) : on_authenticate(arguments);
    return true;
  }
  return false;
}

void ImapServer::on_login(Cursor& arguments) {
  std::array<char, 256> user_buffer{};
  std::array<char, 256> password_buffer{};
  const auto user = astring_argument(arguments, user_buffer);
  const bool separated = user && arguments.space();
  const auto password = separated ? astring_argument(arguments, password_buffer) : std::nullopt;
  if (!password || !arguments.at_end()) return bad("Syntax: LOGIN user password");
  begin_login({}, *user, *password);
}

void ImapServer::on_authenticate(Cursor& arguments) {
  const std::string_view mechanism = arguments.atom();
  if (!iequals(mechanism, "PLAIN")) return no("CANNOT", "Unsupported SASL mechanism");
  if (arguments.at_end()) {
    out_.append("+ \r\n");
    wait_ = Wait::auth_plain_response;
    return;
  }
  // SASL-IR (RFC 4959): the initial response on the command line.
  const std::string_view initial = arguments.space() ? arguments.rest() : std::string_view{};
  if (initial.empty()) return bad("Syntax: AUTHENTICATE PLAIN [initial-response]");
  finish_auth_plain(initial);
}

void ImapServer::finish_auth_plain(std::string_view response) {
  std::array<std::uint8_t, max_sasl_plain_bytes> decoded{};
  const auto plain = decode_sasl_plain(response, decoded);
  if (!plain) return bad("Invalid AUTHENTICATE data");
  begin_login(plain->authzid, plain->authcid, plain->password);
}

void ImapServer::begin_login(std::string_view authzid, std::string_view user, std::string_view password) {
  wait_ = Wait::login;
  const ImapDecision decision = policy_.login(authzid, user, password);
  if (decision.kind != ImapDecision::Kind::pending) resume(decision);
}

void ImapServer::resume(const ImapDecision& decision) {
  if (!awaiting_decision() || decision.kind == ImapDecision::Kind::pending) return;
  const Wait waited = wait_;
  wait_ = Wait::none;
  const bool accepted = decision.kind == ImapDecision::Kind::accept;
  if (!accepted) return no(decision.response_code, decision.text);
  if (waited == Wait::append) {
    std::array<char, 48> code{};
    TextBuilder builder(code);
    builder.text("APPENDUID ").number(policy_.status(append_mailbox_).uid_validity).character(' ');
    return tagged("OK", builder.number(policy_.appended_uid()).view(), "APPEND completed");
  }
  if (waited == Wait::copy) return copy_kept();
  if (waited == Wait::flags) return finish_flags_job(flags_job_);
  if (waited == Wait::commit) {
    if (copy_move_) return move_removed();
    // CLOSE leaves the mailbox once what it expunged is durable.
    const bool close = state_ == State::selected && job_silent_;
    if (close) leave_mailbox();
    if (expunge_refusal_.kind == ImapDecision::Kind::reject) {
      return no(expunge_refusal_.response_code, expunge_refusal_.text);
    }
    return tagged_ok(close ? "CLOSE completed" : "EXPUNGE completed");
  }
  state_ = State::authenticated;
  tagged_ok("Logged in");
}

bool ImapServer::authenticated_state(std::string_view name, Cursor& arguments) {
  if (iequals(name, "ENABLE") && arguments.space()) {
    on_enable(arguments);
    return true;
  }
  if (iequals(name, "NAMESPACE") && arguments.at_end()) {
    untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
    tagged_ok("NAMESPACE completed");
    return true;
  }
  const bool lsub = iequals(name, "LSUB");
  if ((lsub || iequals(name, "LIST")) && arguments.space()) {
    on_list(arguments, lsub);
    return true;
  }
  if (iequals(name, "STATUS") && arguments.space()) {
    on_status(arguments);
    return true;
  }
  const bool examine = iequals(name, "EXAMINE");
  if ((examine || iequals(name, "SELECT")) && arguments.space()) {
    on_select(arguments, examine);
    return true;
  }
  const bool subscribe = iequals(name, "SUBSCRIBE");
  if (subscribe || iequals(name, "UNSUBSCRIBE") || iequals(name, "CREATE") || iequals(name, "DELETE") ||
      iequals(name, "RENAME")) {
    std::array<char, 256> buffer{};
    const auto mailbox = arguments.space() ? astring_argument(arguments, buffer) : std::nullopt;
    if (!mailbox) return false;
    // Every mailbox is subscribed, always; the set of mailboxes is fixed.
    if (subscribe && find_mailbox(*mailbox)) {
      tagged_ok("SUBSCRIBE completed");
    } else {
      no("CANNOT", "The mailboxes are fixed: INBOX and the special-use folders");
    }
    return true;
  }
  if (iequals(name, "IDLE") && arguments.at_end()) {
    out_.append("+ idling\r\n");
    wait_ = Wait::idle;
    announce_changes();
    return true;
  }
  return false;
}

// IMAP4rev2 is the one extension ENABLE turns on (RFC 9051 §6.3.1); the
// ENABLED response lists what this command enabled (RFC 5161 §3.1), and
// names the client gives that are not offered are passed over.
void ImapServer::on_enable(Cursor& arguments) {
  bool enabled_now = false;
  while (!arguments.at_end()) {
    const std::string_view capability = arguments.atom();
    if (capability.empty() || (!arguments.at_end() && !arguments.space())) return bad("Syntax: ENABLE capabilities");
    if (iequals(capability, "IMAP4rev2") && !rev2_) rev2_ = enabled_now = true;
  }
  untagged(enabled_now ? "ENABLED IMAP4rev2" : "ENABLED");
  tagged_ok("ENABLE completed");
}

std::optional<std::size_t> ImapServer::find_mailbox(std::string_view name) {
  for (std::size_t i = 0; i < policy_.mailbox_count(); ++i) {
    const std::string_view candidate = policy_.mailbox(i).name;
    // INBOX is case-insensitive, other names are not (RFC 9051 §5.1).
    const bool inbox = iequals(candidate, "INBOX");
    if (inbox ? iequals(name, candidate) : name == candidate) return i;
  }
  return std::nullopt;
}

// LIST [(selection)] reference (pattern | (patterns)) [RETURN (options)]
// (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, 5819 LIST-STATUS, 6154).
void ImapServer::on_list(Cursor& arguments, bool lsub) {
  ListOptions options;
  if (!lsub && arguments.peek() == '(') {
    const auto selection = arguments.list();
    if (!selection || !arguments.space()) return bad("Syntax: LIST [(options)] reference pattern");
    const std::string_view error = read_list_selection(*selection, options);
    if (!error.empty()) return bad(error);
  }
  std::array<char, 256> reference_buffer{};
  const auto reference = astring_argument(arguments, reference_buffer);
  if (!reference || !arguments.space()) return bad("Syntax: LIST reference pattern");
  // One pattern, or (RFC 5258 §3) a parenthesised list of them, each read
  // again for each mailbox.
  const bool many = !lsub && arguments.peek() == '(';
  const auto patterns = many ? arguments.list() : std::optional(arguments.rest());
  if (!patterns) return bad("Syntax: LIST reference (patterns)");
  std::array<char, 256> pattern_buffer{};
  Cursor check(*patterns);
  for (bool first = true; first || (many && !check.at_end()); first = false) {
    if ((!first && !check.space()) || !list_pattern(check, pattern_buffer)) return bad("Syntax: LIST reference pattern");
  }
  if (!many) arguments = check;
  if (!lsub && arguments.space()) {
    const bool returns = iequals(arguments.atom(), "RETURN") && arguments.space();
    const auto list = returns ? arguments.list() : std::nullopt;
    if (!list) return bad("Syntax: LIST ... RETURN (options)");
    const std::string_view error = read_list_return(*list, options);
    if (!error.empty()) return bad(error);
    if (!write_status(std::nullopt, options.status_items)) return bad("Unknown STATUS item");
  }
  if (!arguments.at_end()) return bad("Syntax: LIST reference pattern");
  const std::string_view kind = lsub ? "LSUB" : "LIST";
  Cursor single(*patterns);
  if (!many && list_pattern(single, pattern_buffer)->empty()) {
    // The hierarchy delimiter and the root (RFC 9051 §6.3.9).
    std::array<char, 64> line{};
    untagged(TextBuilder(line).text(kind).text(" (\\Noselect) \"/\" \"\"").view());
    return tagged_ok(lsub ? "LSUB completed" : "LIST completed");
  }
  for (std::size_t i = 0; i < policy_.mailbox_count(); ++i) {
    const ImapMailbox mailbox = policy_.mailbox(i);
    bool matches = false;
    Cursor each(*patterns);
    for (bool first = true; first || (many && !each.at_end()); first = false) {
      if (!first) each.space();
      matches = list_pattern_matches(*reference, *list_pattern(each, pattern_buffer), mailbox.name) || matches;
    }
    if (!matches || (options.special_use_only && mailbox.special_use.empty())) continue;
    write_list(kind, i, options.subscribed);
    if (!options.status_items.empty()) write_status(i, options.status_items);
  }
  tagged_ok(lsub ? "LSUB completed" : "LIST completed");
}

// "* LIST (attributes) "/" name": no mailbox has children, and each has its
// RFC 6154 attribute.
void ImapServer::write_list(std::string_view kind, std::size_t mailbox, bool subscribed) {
  const ImapMailbox listed = policy_.mailbox(mailbox);
  std::array<char, 300> text{};
  TextBuilder builder(text);
  builder.text(kind).text(" (\\HasNoChildren");
  if (subscribed) builder.text(" \\Subscribed");
  if (!listed.special_use.empty()) builder.character(' ').text(listed.special_use);
  untagged(builder.text(") \"/\" ").text(listed.name).view());
}

void ImapServer::on_status(Cursor& arguments) {
  std::array<char, 256> buffer{};
  const auto name = astring_argument(arguments, buffer);
  const auto items = name && arguments.space() ? arguments.list() : std::nullopt;
  if (!items || !arguments.at_end()) return bad("Syntax: STATUS mailbox (items)");
  const auto mailbox = find_mailbox(*name);
  if (!mailbox) return no("NONEXISTENT", "No such mailbox");
  if (!write_status(*mailbox, *items)) return bad("Unknown STATUS item");
  tagged_ok("STATUS completed");
}

// "* STATUS name (item value ...)" (RFC 9051 §7.3.2); without a mailbox only
// checks the items. False, with nothing written, when an item is unknown.
bool ImapServer::write_status(std::optional<std::size_t> mailbox, std::string_view items) {
  const ImapMailboxStatus status = mailbox ? policy_.status(*mailbox) : ImapMailboxStatus{};
  std::array<char, 300> text{};
  TextBuilder builder(text);
  builder.text("STATUS ").text(mailbox ? policy_.mailbox(*mailbox).name : std::string_view{}).text(" (");
  Cursor list(items);
  for (bool first = true; !list.at_end(); first = false) {
    if (!first && !list.space()) return false;
    const std::string_view item = list.atom();
    std::uint64_t value = 0;
    if (iequals(item, "MESSAGES")) {
      value = status.messages;
    } else if (iequals(item, "UIDNEXT")) {
      value = status.uid_next;
    } else if (iequals(item, "UIDVALIDITY")) {
      value = status.uid_validity;
    } else if (iequals(item, "UNSEEN")) {
      value = status.unseen;
    } else if (iequals(item, "DELETED")) {
      value = status.deleted;
    } else if (iequals(item, "SIZE")) {
      value = status.size_bytes;
    } else if (!iequals(item, "RECENT")) {  // RECENT (rev1) is 0: no session is told a message is new to it alone
      return false;
    }
    if (!first) builder.character(' ');
    builder.text(item).character(' ').number(static_cast<std::int64_t>(value));
  }
  if (mailbox) untagged(builder.character(')').view());
  return true;
}

void ImapServer::on_select(Cursor& arguments, bool read_only) {
  std::array<char, 256> buffer{};
  const auto name = astring_argument(arguments, buffer);
  if (!name || !arguments.at_end()) return bad("Syntax: SELECT mailbox");
  if (state_ == State::selected) {
    leave_mailbox();
    // What follows is about the mailbox being selected (RFC 9051 §7.1).
    if (rev2_) untagged("OK [CLOSED] Previous mailbox closed");
  }
  const auto mailbox = find_mailbox(*name);
  if (!mailbox) return no("NONEXISTENT", "No such mailbox");
  policy_.select(*mailbox);
  saved_result_.clear();
  state_ = State::selected;
  read_only_ = read_only;
  known_messages_ = policy_.message_count();
  const ImapMailboxStatus status = policy_.status(*mailbox);
  std::array<char, 200> text{};
  untagged(TextBuilder(text).text("FLAGS (").text(all_flags).character(')').view());
  out_.append("* OK [PERMANENTFLAGS (");
  const ImapFlags permanent = read_only ? 0 : policy_.permanent_flags();
  bool first = true;
  for (const FlagName& known : flag_names) {
    if ((permanent & known.flag) == 0) continue;
    if (!first) out_.append(" ");
    out_.append(known.name);
    first = false;
  }
  out_.append(")] Flags kept beyond this session\r\n");
  untagged(TextBuilder(text).number(known_messages_).text(" EXISTS").view());
  if (rev2_) {
    // RFC 9051 §6.3.2: the mailbox's LIST; RECENT and UNSEEN are rev1's.
    write_list("LIST", *mailbox, false);
  } else {
    untagged("0 RECENT");
    for (std::uint32_t i = 0; i < known_messages_; ++i) {
      if ((policy_.flags(i) & imap_seen) != 0) continue;
      untagged(TextBuilder(text).text("OK [UNSEEN ").number(i + 1).text("] First unseen").view());
      break;
    }
  }
  untagged(TextBuilder(text).text("OK [UIDVALIDITY ").number(status.uid_validity).text("] UIDs valid").view());
  untagged(TextBuilder(text).text("OK [UIDNEXT ").number(status.uid_next).text("] Predicted next UID").view());
  tagged("OK", read_only ? "READ-ONLY" : "READ-WRITE", read_only ? "EXAMINE completed" : "SELECT completed");
}

void ImapServer::leave_mailbox() {
  policy_.unselect();
  saved_result_.clear();  // RFC 5182 §2.1: "$" belongs to the mailbox
  state_ = State::authenticated;
  known_messages_ = 0;
}

// Tells the client what others changed: expunged messages, then new ones
// (RFC 9051 §7.5.1); as much as the output has room for, the rest next time.
void ImapServer::announce_changes() {
  if (state_ != State::selected) return;
  policy_.refresh();
  std::array<char, 32> text{};
  while (out_.free_space() >= reply_reserve_bytes) {
    const auto vanished = policy_.take_vanished();
    if (!vanished) break;
    untagged(TextBuilder(text).number(*vanished + 1).text(" EXPUNGE").view());
    --known_messages_;
  }
  const std::uint32_t count = policy_.message_count();
  if (count != known_messages_) {
    known_messages_ = count;
    untagged(TextBuilder(text).number(count).text(" EXISTS").view());
  }
  while (out_.free_space() >= reply_reserve_bytes) {
    const auto changed = policy_.take_flag_change();
    if (!changed) break;
    out_.append(TextBuilder(text).text("* ").number(*changed + 1).text(" FETCH (").view());
    write_flags(policy_.flags(*changed));
    out_.append(")\r\n");
  }
}

void ImapServer::store_changed() {
  if (wait_ == Wait::idle && out_.free_space() >= reply_reserve_bytes) announce_changes();
}

bool ImapServer::selected_state(std::string_view name, Cursor& arguments, bool uid) {
  if (iequals(name, "FETCH") && arguments.space()) {
    on_fetch(arguments, uid);
    return true;
  }
  if (iequals(name, "STORE") && arguments.space()) {
    on_store(arguments, uid);
    return true;
  }
  if (iequals(name, "SEARCH") && arguments.space()) {
    on_search(arguments, uid);
    return true;
  }
  if (uid && iequals(name, "EXPUNGE") && arguments.space()) {
    const std::string_view set = arguments.token();
    if (!arguments.at_end() || !valid_set(set, true, 0)) {
      bad("Syntax: UID EXPUNGE uid-set");
    } else if (read_only_) {
      no("READ-ONLY", "Mailbox is read-only");
    } else {
      begin_expunge(false, set);
    }
    return true;
  }
  const bool move = iequals(name, "MOVE");
  if ((move || iequals(name, "COPY")) && arguments.space()) {
    on_copy(arguments, uid, move);
    return true;
  }
  if (uid) return false;
  if (iequals(name, "CHECK") && arguments.at_end()) {
    announce_changes();
    tagged_ok("CHECK completed");
    return true;
  }
  if (iequals(name, "EXPUNGE") && arguments.at_end()) {
    if (read_only_) {
      no("READ-ONLY", "Mailbox is read-only");
    } else {
      begin_expunge(false, {});
    }
    return true;
  }
  const bool close = iequals(name, "CLOSE");
  if ((close || iequals(name, "UNSELECT")) && arguments.at_end()) {
    on_close(close && !read_only_);
    return true;
  }
  return false;
}

void ImapServer::on_close(bool expunge_first) {
  if (!expunge_first) {
    leave_mailbox();
    return tagged_ok("UNSELECT completed");
  }
  begin_expunge(true, {});
}

// ---------------------------------------------------------------- jobs

void ImapServer::start_job(Job job, std::string_view set, bool uid) {
  job_ = job;
  job_uid_ = uid;
  job_set_ = set;
  job_index_ = 0;
  job_removed_ = 0;
  job_met_expunged_ = false;
  job_changed_flags_ = false;
  const std::uint32_t count = policy_.message_count();
  job_largest_ = !uid ? count : (count == 0 ? 0 : policy_.uid(count - 1));
}

// A sequence set, or "$": the saved search result (RFC 5182 §2.2). Message
// sequence numbers name messages the client knows (RFC 9051 §9).
bool ImapServer::valid_set(std::string_view set, bool uid, std::uint32_t count) {
  if (set == "$") return true;
  if (!imap::valid_sequence_set(set)) return false;
  return uid || imap::sequence_set_max(set, count) <= count;
}

bool ImapServer::in_set(std::uint32_t index) {
  if (job_set_.empty()) return true;
  if (job_set_ == "$") return saved_result_.contains(policy_.uid(index));
  const std::uint32_t number = job_uid_ ? policy_.uid(index) : index + 1 + job_removed_;
  return imap::sequence_set_contains(job_set_, number, job_largest_);
}

// Moves job_index_ to the next message of the set that still has content,
// noting the removed ones passed by; false when none is left.
bool ImapServer::next_in_set(std::uint32_t count) {
  for (; job_index_ < count; ++job_index_) {
    if (!in_set(job_index_)) continue;
    if (!policy_.expunged_elsewhere(job_index_)) return true;
    job_met_expunged_ = true;
  }
  return false;
}

void ImapServer::pump() {
  yielded_ = false;
  switch (job_) {
    case Job::fetch: return pump_fetch();
    case Job::store: return pump_store();
    case Job::search: return pump_search();
    case Job::expunge: return pump_expunge();
    case Job::copy: return pump_copy();
    case Job::none: return;
  }
}

void ImapServer::finish_job() {
  const Job job = job_;
  job_ = Job::none;
  switch (job) {
    case Job::fetch:
    case Job::store: {
      if (!job_changed_flags_) return finish_flags_job(job);
      // The flags are durable before the tagged response (RFC 9051 §6.4.6).
      flags_job_ = job;
      wait_ = Wait::flags;
      const ImapDecision decision = policy_.commit();
      if (decision.kind != ImapDecision::Kind::pending) resume(decision);
      return;
    }
    case Job::search:
      if (!search_quiet()) {
        if (search_return_.extended) finish_esearch();
        out_.append("\r\n");
      }
      if (search_return_.save && !save_search_result()) {
        return no("LIMIT", "The result is too scattered to save: $ is empty");
      }
      return tagged_ok(job_uid_ ? "UID SEARCH completed" : "SEARCH completed");
    case Job::expunge: {
      wait_ = Wait::commit;
      const ImapDecision decision = policy_.commit();
      if (decision.kind != ImapDecision::Kind::pending) resume(decision);
      return;
    }
    case Job::copy:
    case Job::none: return;
  }
}

void ImapServer::finish_flags_job(Job job) {
  if (job == Job::fetch && fetch_unknown_encoding_) return no("UNKNOWN-CTE", "Unknown Content-Transfer-Encoding");
  if (job_met_expunged_) return no("EXPUNGEISSUED", "Some of the requested messages no longer exist");
  if (job == Job::fetch) return tagged_ok(job_uid_ ? "UID FETCH completed" : "FETCH completed");
  return tagged_ok(job_uid_ ? "UID STORE completed" : "STORE completed");
}

// A message that cannot be read to the end of a literal already announced:
// the client must not take what it got for the message, so the session ends.
void ImapServer::abandon_message() {
  out_.append("\r\n");
  abort_session("Message unreadable, try again later");
}

ImapServer::FetchItem ImapServer::simple_item(Item kind) {
  FetchItem item;
  item.item = kind;
  return item;
}

void ImapServer::on_fetch(Cursor& arguments, bool uid) {
  const std::string_view set = arguments.token();
  if (!arguments.space()) return bad("Syntax: FETCH sequence-set items");
  if (!valid_set(set, uid, policy_.message_count())) return bad("Invalid sequence set");
  fetch_item_count_ = 0;
  if (uid) fetch_items_[fetch_item_count_++] = simple_item(Item::uid);
  const std::string_view macro = arguments.peek() == '(' ? std::string_view{} : Cursor(arguments.rest()).keyword();
  if (iequals(macro, "FAST")) {
    arguments.keyword();
    for (const Item item : {Item::flags, Item::internal_date, Item::size}) fetch_items_[fetch_item_count_++] = simple_item(item);
  } else if (iequals(macro, "ALL")) {
    arguments.keyword();
    for (const Item item : {Item::flags, Item::internal_date, Item::size, Item::envelope}) {
      fetch_items_[fetch_item_count_++] = simple_item(item);
    }
  } else if (iequals(macro, "FULL")) {
    arguments.keyword();
    for (const Item item : {Item::flags, Item::internal_date, Item::size, Item::envelope, Item::structure}) {
      fetch_items_[fetch_item_count_++] = simple_item(item);
    }
  } else {
    const bool list = arguments.take('(');
    for (bool first = true; list ? !arguments.take(')') : first; first = false) {
      if (!first && !arguments.space()) return bad("Syntax: FETCH sequence-set items");
      if (fetch_item_count_ == fetch_items_.size()) return bad("Too many FETCH items");
      FetchItem item;
      if (!parse_fetch_item(arguments, item)) return;
      const bool duplicate_uid = item.item == Item::uid && uid;
      if (!duplicate_uid) fetch_items_[fetch_item_count_++] = item;
      if (list && arguments.at_end()) return bad("Syntax: FETCH sequence-set items");
    }
  }
  if (!arguments.at_end() || fetch_item_count_ == 0) return bad("Syntax: FETCH sequence-set items");
  fetch_in_message_ = false;
  body_streaming_ = false;
  fetch_unknown_encoding_ = false;
  structure_writer_.reset();
  structure_index_.reset();  // message indexes may have moved since the last FETCH
  start_job(Job::fetch, set, uid);
  pump_fetch();
}

// One FETCH attribute; BAD is already said when it returns false.
bool ImapServer::parse_fetch_item(Cursor& arguments, FetchItem& item) {
  const std::string_view name = arguments.keyword();
  const auto simple = [&](Item kind) {
    item.item = kind;
    return true;
  };
  if (iequals(name, "UID")) return simple(Item::uid);
  if (iequals(name, "FLAGS")) return simple(Item::flags);
  if (iequals(name, "INTERNALDATE")) return simple(Item::internal_date);
  if (iequals(name, "RFC822.SIZE")) return simple(Item::size);
  if (iequals(name, "ENVELOPE")) return simple(Item::envelope);
  if (iequals(name, "BODYSTRUCTURE")) {
    item.extensible = true;
    return simple(Item::structure);
  }
  if (iequals(name, "BODY") && arguments.peek() != '[') return simple(Item::structure);
  if (iequals(name, "BINARY") || iequals(name, "BINARY.PEEK") || iequals(name, "BINARY.SIZE")) {
    return parse_binary(arguments, item, name);
  }
  item.item = Item::body;
  item.rfc822_name = true;
  if (iequals(name, "RFC822")) return true;
  if (iequals(name, "RFC822.HEADER")) {
    item.section = Section::header;
    item.peek = true;  // RFC 9051 §6.4.5: RFC822.HEADER does not set \Seen
    return true;
  }
  if (iequals(name, "RFC822.TEXT")) {
    item.section = Section::text;
    return true;
  }
  item.rfc822_name = false;
  item.peek = iequals(name, "BODY.PEEK");
  if ((!item.peek && !iequals(name, "BODY")) || !arguments.take('[')) {
    bad("Unknown FETCH item");
    return false;
  }
  if (!parse_section(arguments, item)) return false;
  if (!arguments.take(']')) {
    bad("Syntax: BODY[section]");
    return false;
  }
  return parse_partial(arguments, item);
}

// A partial range "<offset.length>" after a section, if one follows.
bool ImapServer::parse_partial(Cursor& arguments, FetchItem& item) {
  if (!arguments.take('<')) return true;
  const auto offset = arguments.number();
  const auto length = offset && arguments.take('.') ? arguments.number() : std::nullopt;
  if (!length || *length == 0 || !arguments.take('>')) {
    bad("Syntax: <offset.length>");
    return false;
  }
  item.partial = true;
  item.partial_offset = *offset;
  item.partial_length = *length;
  return true;
}

// BINARY[part]<partial>, BINARY.PEEK[part]<partial>, BINARY.SIZE[part]
// (RFC 3516 §4.2): a part number only, or none for the whole message.
bool ImapServer::parse_binary(Cursor& arguments, FetchItem& item, std::string_view name) {
  const std::string_view part = arguments.take('[') ? arguments.keyword() : std::string_view{"x"};
  const bool numbers = std::all_of(part.begin(), part.end(), [](char c) { return ascii::is_digit(c) || c == '.'; }) &&
                       !part.starts_with('.') && !part.ends_with('.') && part.find("..") == std::string_view::npos;
  if (!numbers || !arguments.take(']')) {
    bad("Syntax: BINARY[part]");
    return false;
  }
  item.part = part;
  if (iequals(name, "BINARY.SIZE")) {
    item.item = Item::binary_size;
    return true;
  }
  item.item = Item::body;
  item.binary = true;
  item.peek = iequals(name, "BINARY.PEEK");
  return parse_partial(arguments, item);
}

// The section inside BODY[...] (RFC 9051 §6.4.5): an optional part number
// ("1.2"), then HEADER, HEADER.FIELDS (list), HEADER.FIELDS.NOT (list), TEXT,
// or with a part number MIME. BAD is already said when it returns false.
bool ImapServer::parse_section(Cursor& arguments, FetchItem& item) {
  std::string_view section = arguments.keyword();
  // The part number: the leading run of numbers separated by dots.
  std::size_t part_end = 0;
  while (part_end < section.size() && ascii::is_digit(section[part_end])) {
    while (part_end < section.size() && ascii::is_digit(section[part_end])) ++part_end;
    if (part_end + 1 < section.size() && section[part_end] == '.' && ascii::is_digit(section[part_end + 1])) ++part_end;
  }
  item.part = section.substr(0, part_end);
  section.remove_prefix(part_end);
  if (!item.part.empty() && !section.empty()) {
    if (section.size() < 2 || section.front() != '.') {
      bad("Syntax: BODY[part.section]");
      return false;
    }
    section.remove_prefix(1);
  }
  if (section.empty()) {
    item.section = Section::whole;
  } else if (iequals(section, "HEADER")) {
    item.section = Section::header;
  } else if (iequals(section, "TEXT")) {
    item.section = Section::text;
  } else if (iequals(section, "MIME") && !item.part.empty()) {
    item.section = Section::mime;
  } else if (iequals(section, "HEADER.FIELDS") || iequals(section, "HEADER.FIELDS.NOT")) {
    item.section = iequals(section, "HEADER.FIELDS") ? Section::fields : Section::fields_not;
    const auto fields = arguments.space() ? arguments.list() : std::nullopt;
    if (!fields || fields->empty() || fields->size() > max_field_list_bytes) {
      bad("Syntax: HEADER.FIELDS (names)");
      return false;
    }
    item.fields = *fields;
  } else {
    bad("Unknown section in BODY[section]");
    return false;
  }
  return true;
}

void ImapServer::pump_fetch() {
  std::uint32_t started = 0;
  while (job_ == Job::fetch && state_ != State::logout) {
    if (body_streaming_) {
      if (!stream_body()) return;
      continue;
    }
    if (out_.free_space() < reply_reserve_bytes) return;
    if (!fetch_in_message_) {
      if (started == messages_per_pump) {
        yielded_ = true;
        return;
      }
      if (!fetch_message_start()) return finish_job();
      ++started;
      continue;
    }
    if (fetch_item_index_ < fetch_item_count_) {
      if (!fetch_item()) return;
      continue;
    }
    const bool flags_asked = std::any_of(fetch_items_.begin(), fetch_items_.begin() + static_cast<std::ptrdiff_t>(fetch_item_count_),
                                         [](const FetchItem& item) { return item.item == Item::flags; });
    if (fetch_flags_changed_ && !flags_asked) {
      out_.append(" ");
      write_flags(policy_.flags(job_index_));
    }
    out_.append(")\r\n");
    fetch_in_message_ = false;
    ++job_index_;
  }
}

// The next message of the set: "* n FETCH (", and \Seen set when a body part
// is fetched without PEEK (RFC 9051 §6.4.5). False when none is left.
bool ImapServer::fetch_message_start() {
  if (!next_in_set(policy_.message_count())) return false;
  const auto known = encodings_known();
  if (!known) {
    abort_session("Message unreadable, try again later");
    return false;
  }
  if (!*known) {
    // Before anything of the message is said: the command fails whole.
    fetch_unknown_encoding_ = true;
    return false;
  }
  fetch_in_message_ = true;
  fetch_item_index_ = 0;
  fetch_flags_changed_ = false;
  envelope_field_ = 0;
  const ImapFlags flags = policy_.flags(job_index_);
  const bool reads_body = std::any_of(fetch_items_.begin(), fetch_items_.begin() + static_cast<std::ptrdiff_t>(fetch_item_count_),
                                      [](const FetchItem& item) { return item.item == Item::body && !item.peek; });
  if (reads_body && !read_only_ && (flags & imap_seen) == 0) {
    policy_.set_flags(job_index_, static_cast<ImapFlags>(flags | imap_seen));
    fetch_flags_changed_ = true;
    job_changed_flags_ = true;
  }
  std::array<char, 32> text{};
  out_.append(TextBuilder(text).text("* ").number(job_index_ + 1).text(" FETCH (").view());
  return true;
}

void ImapServer::write_item_name(const FetchItem& item) {
  if (item.rfc822_name) {
    out_.append(item.section == Section::whole    ? "RFC822"
                : item.section == Section::header ? "RFC822.HEADER"
                                                  : "RFC822.TEXT");
    return;
  }
  const bool binary = item.binary || item.item == Item::binary_size;
  out_.append(!binary ? "BODY[" : item.binary ? "BINARY[" : "BINARY.SIZE[");
  out_.append(item.part);
  if (!item.part.empty() && item.section != Section::whole) out_.append(".");
  switch (item.section) {
    case Section::whole: break;
    case Section::header: out_.append("HEADER"); break;
    case Section::text: out_.append("TEXT"); break;
    case Section::mime: out_.append("MIME"); break;
    case Section::fields:
    case Section::fields_not:
      out_.append(item.section == Section::fields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (");
      out_.append(item.fields);
      out_.append(")");
      break;
  }
  out_.append("]");
  if (item.partial) {
    std::array<char, 16> text{};
    out_.append(TextBuilder(text).character('<').number(item.partial_offset).character('>').view());
  }
}

// Writes one attribute; a body part starts streaming. False when the session
// had to end (the message could not be read).
bool ImapServer::fetch_item() {
  const FetchItem& item = fetch_items_[fetch_item_index_];
  // ENVELOPE and BODYSTRUCTURE come a piece at a time: the separator only before their first.
  if (fetch_item_index_ > 0 && envelope_field_ == 0 && !structure_writer_) out_.append(" ");
  std::array<char, 64> text{};
  TextBuilder builder(text);
  switch (item.item) {
    case Item::uid: out_.append(builder.text("UID ").number(policy_.uid(job_index_)).view()); break;
    case Item::flags: write_flags(policy_.flags(job_index_)); break;
    case Item::size: out_.append(builder.text("RFC822.SIZE ").number(policy_.size_bytes(job_index_)).view()); break;
    case Item::internal_date: {
      std::array<char, 26> date{};
      // A message whose arrival time is unknown shows the epoch.
      out_.append(builder.text("INTERNALDATE \"").text(imap::format_date_time(policy_.arrived_s(job_index_), date))
                      .character('"').view());
      break;
    }
    case Item::envelope: return fetch_envelope_field();
    case Item::structure: return fetch_structure(item);
    case Item::body: {
      SectionBytes bytes;
      const auto exists = locate_section(item, bytes);
      const auto length = exists && *exists ? section_length(item, bytes) : std::nullopt;
      if (!exists || (*exists && !length)) {
        abandon_message();
        return false;
      }
      write_item_name(item);
      if (!*exists) {
        out_.append(" NIL");  // a part the message does not have
        break;
      }
      // BINARY's bytes may hold NUL: a literal8 (RFC 3516 §4.3).
      out_.append(builder.text(item.binary ? " ~{" : " {").number(*length).text("}\r\n").view());
      body_streaming_ = true;
      return true;
    }
    case Item::binary_size: {
      SectionBytes bytes;
      const auto exists = locate_section(item, bytes);
      const auto length = exists && *exists ? decoded_length(bytes) : std::optional<std::uint32_t>(0);
      if (!exists || !length) {
        abandon_message();
        return false;
      }
      write_item_name(item);
      out_.append(builder.text(" ").number(*length).view());  // 0 for a part the message does not have
      break;
    }
  }
  ++fetch_item_index_;
  return true;
}

mime::Structure& ImapServer::structure() {
  auto* const structure = std::get_if<mime::Structure>(&job_room_);
  PIGEON_ASSERT(structure != nullptr);
  return *structure;
}

ImapServer::CopyUids& ImapServer::copy_uids() {
  auto* const uids = std::get_if<CopyUids>(&job_room_);
  PIGEON_ASSERT(uids != nullptr);
  return *uids;
}

// The MIME structure of the message being fetched, by one pass over it
// unless it is already known; false when the message could not be read.
bool ImapServer::load_structure() {
  if (structure_index_ == job_index_) return true;
  structure_index_.reset();
  mime::Parser parser(job_room_.emplace<mime::Structure>());
  std::array<std::uint8_t, piece_bytes / 2> piece{};
  for (std::uint32_t offset = 0;;) {
    const auto read = policy_.read_message(job_index_, offset, piece);
    if (!read) return false;
    if (*read == 0) break;
    parser.feed({piece.data(), *read});
    offset += static_cast<std::uint32_t>(*read);
  }
  parser.finish();
  structure_index_ = job_index_;
  return true;
}

// Whether every part the FETCH asks BINARY of has an encoding BINARY can undo
// (RFC 3516 §4.3: else NO [UNKNOWN-CTE]); nullopt when the message could not be read.
std::optional<bool> ImapServer::encodings_known() {
  for (std::size_t i = 0; i < fetch_item_count_; ++i) {
    const FetchItem& item = fetch_items_[i];
    if ((!item.binary && item.item != Item::binary_size) || item.part.empty()) continue;
    if (!load_structure()) return std::nullopt;
    const auto part = structure().find(item.part);
    std::optional<mime::Encoding> encoding;
    if (part && !part_encoding(*part, encoding)) return std::nullopt;
    if (part && !encoding) return false;
  }
  return true;
}

// The Content-Transfer-Encoding of a part of the message being fetched,
// unset when it is none that BINARY knows; false when it could not be read.
bool ImapServer::part_encoding(std::uint8_t part, std::optional<mime::Encoding>& encoding) {
  imap::FieldValue value;
  StoredHeaderFields fields(policy_, job_index_);
  const mime::Part& stored = structure().parts[part];
  if (!fields.read({stored.header_offset, stored.body_offset}, "Content-Transfer-Encoding", value)) return false;
  mime::ValueReader reader(value.value());
  encoding = mime::encoding_named(reader.token());
  return true;
}

// The length of a section's bytes with their transfer encoding undone, by a
// pass over them when there is one to undo; nullopt when they could not be read.
std::optional<std::uint32_t> ImapServer::decoded_length(const SectionBytes& bytes) {
  if (bytes.encoding == mime::Encoding::identity) return bytes.end - bytes.begin;
  mime::TransferDecoder decoder(bytes.encoding);
  CountingSink counter;
  std::array<std::uint8_t, piece_bytes / 2> piece{};
  for (std::uint32_t offset = bytes.begin; offset < bytes.end;) {
    const std::size_t wanted = std::min<std::size_t>(piece.size(), bytes.end - offset);
    const auto read = policy_.read_message(job_index_, offset, {piece.data(), wanted});
    if (!read || *read == 0) return std::nullopt;
    decoder.feed({piece.data(), *read}, counter);
    offset += static_cast<std::uint32_t>(*read);
  }
  decoder.finish(counter);
  return counter.count;
}

// BODY or BODYSTRUCTURE: the name, then a piece of the structure per call
// (each fits the reserve) until it is written.
bool ImapServer::fetch_structure(const FetchItem& item) {
  if (!structure_writer_) {
    if (!load_structure()) {
      abandon_message();
      return false;
    }
    out_.append(item.extensible ? "BODYSTRUCTURE " : "BODY ");
    structure_writer_.emplace(structure(), item.extensible);
  }
  std::array<char, imap::BodyStructureWriter::max_piece_bytes> text{};
  TextBuilder piece(text);
  StoredHeaderFields fields(policy_, job_index_);
  if (!structure_writer_->write_next(piece, fields)) {
    abandon_message();
    return false;
  }
  PIGEON_ASSERT(piece.ok());
  out_.append(piece.view());
  if (structure_writer_->done()) {
    structure_writer_.reset();
    ++fetch_item_index_;
  }
  return true;
}

// Where the section's bytes lie: true, false when the message has no such
// part (RFC 9051 §6.4.5: HEADER, TEXT and HEADER.FIELDS of a part need a
// message/rfc822 part), nullopt when the message could not be read.
std::optional<bool> ImapServer::locate_section(const FetchItem& item, SectionBytes& bytes) {
  const std::uint32_t size = policy_.size_bytes(job_index_);
  bytes = {0, size, false};
  if (item.part.empty()) {
    if (item.section == Section::text) {
      const auto header = header_length(imap::HeaderSelection::all, {}, false);
      if (!header) return std::nullopt;
      bytes.begin = std::min(*header, size);
    }
    bytes.filtered = item.section != Section::whole && item.section != Section::text;
    return true;
  }
  if (!load_structure()) return std::nullopt;
  const auto index = structure().find(item.part);
  if (!index) return false;
  const mime::Part& part = structure().parts[*index];
  if (item.section == Section::whole || item.section == Section::mime) {
    bytes.begin = item.section == Section::whole ? part.body_offset : part.header_offset;
    bytes.end = item.section == Section::whole ? part.body_end : part.body_offset;
    std::optional<mime::Encoding> encoding;
    if ((item.binary || item.item == Item::binary_size) && !part_encoding(*index, encoding)) return std::nullopt;
    bytes.encoding = encoding.value_or(mime::Encoding::identity);
    return true;
  }
  if (part.kind != mime::PartKind::message) return false;
  const mime::Part& embedded = structure().parts[*structure().first_child(*index)];
  bytes.begin = item.section == Section::text ? embedded.body_offset : embedded.header_offset;
  bytes.end = item.section == Section::text ? embedded.body_end : embedded.body_offset;
  bytes.filtered = item.section != Section::text;
  return true;
}

// The section's length as sent (after the partial window), read in a first
// pass over the header when it is filtered; sets up the streaming pass.
std::optional<std::uint32_t> ImapServer::section_length(const FetchItem& item, const SectionBytes& bytes) {
  std::uint32_t length = bytes.end - bytes.begin;
  body_filter_.reset();
  body_decoder_.reset();
  if (bytes.encoding != mime::Encoding::identity) {
    const auto decoded = decoded_length(bytes);
    if (!decoded) return std::nullopt;
    length = *decoded;
    body_decoder_.emplace(bytes.encoding);
  } else if (bytes.filtered) {
    const imap::HeaderSelection selection = item.section == Section::fields       ? imap::HeaderSelection::fields
                                            : item.section == Section::fields_not ? imap::HeaderSelection::fields_not
                                                                                  : imap::HeaderSelection::all;
    const auto filtered = header_length(selection, item.fields, true, bytes.begin, bytes.end);
    if (!filtered) return std::nullopt;
    length = *filtered;
    body_filter_.emplace(selection, item.fields);
  }
  const std::uint32_t begin = item.partial ? std::min(item.partial_offset, length) : 0;
  const std::uint32_t end = item.partial ? begin + std::min(item.partial_length, length - begin) : length;
  body_section_offset_ = 0;
  body_raw_end_ = bytes.end;
  if (body_filter_ || body_decoder_) {
    body_raw_offset_ = bytes.begin;
    body_window_begin_ = begin;
    body_window_end_ = end;
  } else {
    body_raw_offset_ = bytes.begin + begin;
    body_window_begin_ = bytes.begin + begin;
    body_window_end_ = bytes.begin + end;
  }
  return end - begin;
}

// The header's raw length, or what a selection of it passes through the filter.
std::optional<std::uint32_t> ImapServer::header_length(imap::HeaderSelection selection, std::string_view fields,
                                                       bool filtered_bytes, std::uint32_t begin, std::uint32_t end) {
  imap::HeaderFilter filter(selection, fields);
  CountingSink counter;
  if (!scan_header(policy_, job_index_, filter, counter, begin, end)) return std::nullopt;
  return filtered_bytes ? counter.count : filter.header_bytes();
}

// One field of ENVELOPE per call (each reply part fits the reserve), read by
// its own pass over the header: the message is never held, only one value.
bool ImapServer::fetch_envelope_field() {
  out_.append(envelope_field_ == 0 ? "ENVELOPE (" : " ");
  std::array<char, reply_reserve_bytes - 32> text{};
  TextBuilder builder(text);
  StoredHeaderFields fields(policy_, job_index_);
  if (!imap::write_envelope_field(builder, envelope_field_, fields, imap::HeaderRange{})) {
    abandon_message();
    return false;
  }
  out_.append(builder.view());
  if (++envelope_field_ < imap::envelope_fields.size()) return true;
  out_.append(")");
  envelope_field_ = 0;
  ++fetch_item_index_;
  return true;
}

// Streams the part being fetched into free output space; true when it is
// done, false when the output is full or the session ended.
bool ImapServer::stream_body() {
  std::array<std::uint8_t, piece_bytes> piece{};
  for (;;) {
    if (out_.free_space() < filter_slack_bytes + 64) return false;
    const std::size_t room = std::min(piece.size(), out_.free_space() - filter_slack_bytes);
    bool done = false;
    if (body_filter_ || body_decoder_) {
      // The section's bytes are made from the raw ones: the window applies to what is made.
      const std::size_t wanted = std::min<std::size_t>(room, body_raw_end_ - body_raw_offset_);
      const auto read = wanted == 0 ? std::optional<std::size_t>(0)
                                    : policy_.read_message(job_index_, body_raw_offset_, {piece.data(), wanted});
      if (!read || (*read == 0 && wanted > 0)) {
        abandon_message();
        return false;
      }
      WindowSink sink(out_, body_section_offset_, body_window_begin_, body_window_end_);
      const std::span<const std::uint8_t> raw(piece.data(), *read);
      if (body_filter_) {
        if (*read == 0) body_filter_->finish(sink);
        body_raw_offset_ += static_cast<std::uint32_t>(body_filter_->feed(raw, sink));
        done = *read == 0 || body_filter_->done() || body_section_offset_ >= body_window_end_;
      } else {
        if (*read == 0) body_decoder_->finish(sink);
        body_decoder_->feed(raw, sink);
        body_raw_offset_ += static_cast<std::uint32_t>(*read);
        done = *read == 0 || body_section_offset_ >= body_window_end_;
      }
    } else {
      const std::size_t wanted = std::min<std::size_t>(room, body_window_end_ - body_raw_offset_);
      const auto read = wanted == 0 ? std::optional<std::size_t>(0)
                                    : policy_.read_message(job_index_, body_raw_offset_, {piece.data(), wanted});
      if (!read || (*read == 0 && body_raw_offset_ < body_window_end_)) {
        abandon_message();
        return false;
      }
      out_.append(std::span<const std::uint8_t>(piece.data(), *read));
      body_raw_offset_ += static_cast<std::uint32_t>(*read);
      done = body_raw_offset_ >= body_window_end_;
    }
    if (done) {
      body_streaming_ = false;
      ++fetch_item_index_;
      return true;
    }
  }
}

// STORE set [+|-]FLAGS[.SILENT] (flags)
void ImapServer::on_store(Cursor& arguments, bool uid) {
  const std::string_view set = arguments.token();
  if (!arguments.space()) return bad("Syntax: STORE sequence-set [+|-]FLAGS[.SILENT] (flags)");
  if (!valid_set(set, uid, policy_.message_count())) return bad("Invalid sequence set");
  store_mode_ = arguments.take('+') ? '+' : arguments.take('-') ? '-' : '=';
  const std::string_view item = arguments.keyword();
  if (!iequals(item, "FLAGS") && !iequals(item, "FLAGS.SILENT")) return bad("Syntax: STORE [+|-]FLAGS[.SILENT]");
  if (!arguments.space()) return bad("Syntax: STORE [+|-]FLAGS[.SILENT] (flags)");
  const bool parenthesised = arguments.take('(');
  store_flags_ = 0;
  for (bool first = true; !arguments.at_end() && arguments.peek() != ')'; first = false) {
    if (!first && !arguments.space()) return bad("Syntax: flags are separated by spaces");
    const bool system = arguments.take('\\');
    const std::string_view flag = arguments.atom();
    if (flag.empty()) return bad("Invalid flag");
    if (!system) continue;  // keywords are not kept: PERMANENTFLAGS does not offer \*
    std::array<char, 80> name{};
    const auto bits = flag_bits(TextBuilder(name).character('\\').text(flag).view());
    if (!bits) return bad("Unknown system flag");
    store_flags_ = static_cast<ImapFlags>(store_flags_ | *bits);
  }
  if (parenthesised && !arguments.take(')')) return bad("Syntax: (flags)");
  if (!arguments.at_end()) return bad("Syntax: STORE sequence-set [+|-]FLAGS[.SILENT] (flags)");
  if (read_only_) return no("READ-ONLY", "Mailbox is read-only");
  job_silent_ = iequals(item, "FLAGS.SILENT");
  start_job(Job::store, set, uid);
  pump_store();
}

void ImapServer::pump_store() {
  const std::uint32_t count = policy_.message_count();
  for (; next_in_set(count); ++job_index_) {
    if (out_.free_space() < reply_reserve_bytes) return;
    const ImapFlags old_flags = policy_.flags(job_index_);
    ImapFlags flags = store_flags_;
    if (store_mode_ == '+') flags = static_cast<ImapFlags>(old_flags | store_flags_);
    if (store_mode_ == '-') flags = static_cast<ImapFlags>(old_flags & ~store_flags_);
    if (flags != old_flags) {
      policy_.set_flags(job_index_, flags);
      job_changed_flags_ = true;
    }
    if (job_silent_) continue;
    std::array<char, 48> text{};
    TextBuilder builder(text);
    builder.text("* ").number(job_index_ + 1).text(" FETCH (");
    if (job_uid_) builder.text("UID ").number(policy_.uid(job_index_)).character(' ');
    out_.append(builder.view());
    write_flags(flags);
    out_.append(")\r\n");
  }
  finish_job();
}

// ---------------------------------------------------------------- SEARCH

namespace {

// Evaluates a SEARCH program (RFC 9051 §6.4.4) against one message, or, with
// no message, only checks its syntax.
class SearchProgram {
 public:
  SearchProgram(ImapServerPolicy& policy, const imap::SavedResult& saved, std::optional<std::uint32_t> index,
                std::uint32_t count)
      : policy_(policy), saved_(saved), index_(index), count_(count) {}

  // Every key of the program, ANDed; false when the syntax is wrong.
  bool evaluate(std::string_view program, bool& matches) {
    Cursor cursor(program);
    if (!keys(cursor, 0, matches)) return false;
    return cursor.at_end();
  }

 private:
  bool keys(Cursor& cursor, int depth, bool& matches) {
    matches = true;
    for (bool first = true; !cursor.at_end() && cursor.peek() != ')'; first = false) {
      if (!first && !cursor.space()) return false;
      bool one = false;
      if (!key(cursor, depth, one)) return false;
      matches = matches && one;
    }
    return true;
  }

  bool key(Cursor& cursor, int depth, bool& matches) {
    if (depth > max_search_depth) return false;
    if (cursor.take('(')) return keys(cursor, depth + 1, matches) && cursor.take(')');
    const std::string_view set = Cursor(cursor.rest()).token();
    if (set == "$") {
      cursor.token();
      matches = in_saved_result();
      return true;
    }
    if (!set.empty() && (ascii::is_digit(set.front()) || set.front() == '*')) {
      cursor.token();
      if (!imap::valid_sequence_set(set)) return false;
      matches = index_ && imap::sequence_set_contains(set, *index_ + 1, count_);
      return true;
    }
    const std::string_view name = cursor.atom();
    if (iequals(name, "NOT")) {
      bool inner = false;
      if (!cursor.space() || !key(cursor, depth + 1, inner)) return false;
      matches = !inner;
      return true;
    }
    if (iequals(name, "OR")) {
      bool left = false, right = false;
      if (!cursor.space() || !key(cursor, depth + 1, left) || !cursor.space() || !key(cursor, depth + 1, right)) {
        return false;
      }
      matches = left || right;
      return true;
    }
    if (flag_key(name, matches)) return true;
    if (iequals(name, "UID")) {
      const std::string_view uids = cursor.space() ? cursor.token() : std::string_view{};
      if (uids == "$") {
        matches = in_saved_result();
        return true;
      }
      if (!imap::valid_sequence_set(uids)) return false;
      const std::uint32_t largest = count_ == 0 ? 0 : policy_.uid(count_ - 1);
      matches = index_ && imap::sequence_set_contains(uids, policy_.uid(*index_), largest);
      return true;
    }
    const bool larger = iequals(name, "LARGER");
    if (larger || iequals(name, "SMALLER")) {
      const auto limit = cursor.space() ? cursor.number() : std::nullopt;
      if (!limit) return false;
      const std::uint32_t size = index_ ? policy_.size_bytes(*index_) : 0;
      matches = larger ? size > *limit : size < *limit;
      return true;
    }
    if (date_key(cursor, name, matches)) return true;
    if (text_key(cursor, name, matches)) return true;
    if (iequals(name, "KEYWORD") || iequals(name, "UNKEYWORD")) {
      // No message has a keyword.
      if (!cursor.space() || cursor.atom().empty()) return false;
      matches = iequals(name, "UNKEYWORD");
      return true;
    }
    return false;
  }

  // BEFORE, ON and SINCE compare the day the message arrived (its internal
  // date); SENTBEFORE, SENTON and SENTSINCE the day of its Date: field, or
  // its arrival when it has no Date: that can be read (RFC 9051 §6.4.4).
  bool date_key(Cursor& cursor, std::string_view name, bool& matches) {
    const bool sent = name.size() > 4 && iequals(name.substr(0, 4), "SENT");
    const std::string_view comparison = sent ? name.substr(4) : name;
    const bool before = iequals(comparison, "BEFORE"), on = iequals(comparison, "ON");
    if (!before && !on && !iequals(comparison, "SINCE")) return false;
    const auto day = cursor.space() ? imap::parse_date(cursor.token()) : std::nullopt;
    if (!day) return false;
    const std::int64_t message_day = !index_ ? 0 : sent ? sent_day(*index_) : arrival_day(*index_);
    matches = before ? message_day < *day : on ? message_day == *day : message_day >= *day;
    return true;
  }

  std::int64_t arrival_day(std::uint32_t index) { return policy_.arrived_s(index) / 86400; }

  std::int64_t sent_day(std::uint32_t index) {
    imap::FieldValue date;
    imap::HeaderFilter filter(imap::HeaderSelection::fields, "Date");
    if (scan_header(policy_, index, filter, date) && date.present()) {
      if (const auto day = imap::parse_message_date(date.value())) return *day;
    }
    return arrival_day(index);
  }

  // FROM, TO, CC, BCC, SUBJECT and HEADER search a field's values, BODY the
  // text after the header, TEXT the whole message; each streams the message
  // past a TextMatcher. A message that cannot be read does not match.
  bool text_key(Cursor& cursor, std::string_view name, bool& matches) {
    static constexpr std::array<std::array<std::string_view, 2>, 5> field_keys{
        {{"FROM", "From"}, {"TO", "To"}, {"CC", "Cc"}, {"BCC", "Bcc"}, {"SUBJECT", "Subject"}}};
    std::string_view field;
    for (const auto& key : field_keys) {
      if (iequals(name, key[0])) field = key[1];
    }
    std::array<char, 256> field_buffer{};
    const bool header = iequals(name, "HEADER");
    if (header) {
      const auto named = cursor.space() ? astring_argument(cursor, field_buffer) : std::nullopt;
      if (!named || named->empty()) return false;
      field = *named;
    }
    const bool body = iequals(name, "BODY"), text = iequals(name, "TEXT");
    if (field.empty() && !body && !text) return false;
    std::array<char, imap::TextMatcher::max_pattern_bytes> pattern_buffer{};
    const auto pattern = cursor.space() ? astring_argument(cursor, pattern_buffer) : std::nullopt;
    if (!pattern) return false;
    matches = false;
    if (!index_) return true;
    imap::TextMatcher matcher(*pattern, !field.empty());
    bool read = true;
    if (!field.empty()) {
      imap::HeaderFilter filter(imap::HeaderSelection::fields, field);
      read = scan_header(policy_, *index_, filter, matcher);
    } else if (text) {
      read = scan_rest(policy_, *index_, 0, matcher);
    } else {
      imap::HeaderFilter filter(imap::HeaderSelection::all, {});
      CountingSink ignored;
      read = scan_header(policy_, *index_, filter, ignored) && scan_rest(policy_, *index_, filter.header_bytes(), matcher);
    }
    matches = read && matcher.found();
    return true;
  }

  bool flag_key(std::string_view name, bool& matches) {
    struct FlagKey {
      std::string_view name;
      ImapFlags flag;
      bool set;
    };
    static constexpr std::array<FlagKey, 13> keys{{{"ALL", 0, false},
                                                   {"ANSWERED", imap_answered, true},
                                                   {"DELETED", imap_deleted, true},
                                                   {"DRAFT", imap_draft, true},
                                                   {"FLAGGED", imap_flagged, true},
                                                   {"SEEN", imap_seen, true},
                                                   {"UNANSWERED", imap_answered, false},
                                                   {"UNDELETED", imap_deleted, false},
                                                   {"UNDRAFT", imap_draft, false},
                                                   {"UNFLAGGED", imap_flagged, false},
                                                   {"UNSEEN", imap_seen, false},
                                                   {"OLD", 0, false},
                                                   {"NEW", 0, true}}};
    for (const FlagKey& key : keys) {
      if (!iequals(name, key.name)) continue;
      // No message is \Recent: OLD matches all, NEW (recent and unseen) none.
      const ImapFlags flags = index_ && key.flag != 0 ? policy_.flags(*index_) : 0;
      matches = key.flag == 0 ? !key.set : ((flags & key.flag) != 0) == key.set;
      return true;
    }
    if (iequals(name, "RECENT")) {
      matches = false;
      return true;
    }
    return false;
  }

  // "$" (RFC 5182): the result the last SEARCH RETURN (SAVE) kept.
  bool in_saved_result() { return index_ && saved_.contains(policy_.uid(*index_)); }

  ImapServerPolicy& policy_;
  const imap::SavedResult& saved_;
  std::optional<std::uint32_t> index_;
  std::uint32_t count_;
};

}  // namespace

// A SEARCH that was to SAVE and fails leaves "$" empty (RFC 5182 §2.1).
void ImapServer::on_search(Cursor& arguments, bool uid) {
  search_return_ = {};
  if (!start_search(arguments, uid) && search_return_.save) saved_result_.clear();
}

// False when the command was refused.
bool ImapServer::start_search(Cursor& arguments, bool uid) {
  if (iequals(Cursor(arguments.rest()).atom(), "RETURN")) {
    arguments.atom();
    const auto options = arguments.space() ? arguments.list() : std::nullopt;
    if (!options || !arguments.space()) return bad("Syntax: SEARCH RETURN (options) keys"), false;
    if (!parse_search_return(*options)) return bad("SEARCH RETURN options are MIN, MAX, ALL, COUNT and SAVE"), false;
  } else if (rev2_) {
    // IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 §6.4.4).
    parse_search_return({});
  }
  if (iequals(Cursor(arguments.rest()).atom(), "CHARSET")) {
    arguments.atom();
    const std::string_view charset = arguments.space() ? arguments.atom() : std::string_view{};
    if (!iequals(charset, "US-ASCII") && !iequals(charset, "UTF-8")) {
      return no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset"), false;
    }
    if (!arguments.space()) return bad("Syntax: SEARCH [CHARSET name] keys"), false;
  }
  SearchProgram check(policy_, saved_result_, std::nullopt, policy_.message_count());
  bool ignored = false;
  if (!check.evaluate(arguments.rest(), ignored)) return bad("Syntax: SEARCH keys"), false;
  search_program_ = arguments.rest();
  start_job(Job::search, {}, uid);
  if (search_return_.save) saved_result_.begin();
  if (!search_quiet()) {
    std::array<char, reply_reserve_bytes> opening{};
    TextBuilder builder(opening);
    if (search_return_.extended) {
      builder.text("* ESEARCH (TAG \"").text({tag_.data(), tag_length_}).text("\")").text(uid ? " UID" : "");
    } else {
      builder.text("* SEARCH");
    }
    out_.append(builder.view());
  }
  pump_search();
  return true;
}

// RFC 4731 §3.1: "RETURN ()" means ALL; RFC 5182 adds SAVE, which alone
// saves every match and with MIN or MAX but not ALL or COUNT only those.
bool ImapServer::parse_search_return(std::string_view options) {
  SearchReturn& result = search_return_;
  result.extended = true;
  Cursor cursor(options);
  for (bool first = true; !cursor.at_end(); first = false) {
    if (!first && !cursor.space()) return false;
    const std::string_view option = cursor.atom();
    bool* const wanted = iequals(option, "MIN")     ? &result.min
                         : iequals(option, "MAX")   ? &result.max
                         : iequals(option, "ALL")   ? &result.all
                         : iequals(option, "COUNT") ? &result.count
                         : iequals(option, "SAVE")  ? &result.save
                                                    : nullptr;
    if (wanted == nullptr) return false;
    *wanted = true;
  }
  if (options.empty()) result.all = true;
  result.save_all = result.save && (result.all || result.count || !(result.min || result.max));
  return true;
}

// RETURN (SAVE) alone: no ESEARCH response at all (RFC 5182 §2.1).
bool ImapServer::search_quiet() const {
  const SearchReturn& result = search_return_;
  return result.save && !(result.min || result.max || result.all || result.count);
}

void ImapServer::pump_search() {
  const std::uint32_t count = policy_.message_count();
  std::array<char, 32> text{};
  const std::uint32_t slice_end = job_index_ + messages_per_pump;
  for (; job_index_ < count; ++job_index_) {
    if (out_.free_space() < reply_reserve_bytes) return;
    if (job_index_ == slice_end) {
      yielded_ = true;
      return;
    }
    if (!search_matches(job_index_)) continue;
    const std::uint32_t number = job_uid_ ? policy_.uid(job_index_) : job_index_ + 1;
    if (search_return_.save_all) saved_result_.add(job_index_, policy_.uid(job_index_));
    TextBuilder builder(text);
    if (search_return_.extended) {
      note_search_match(number, builder);
    } else {
      builder.character(' ').number(number);
    }
    out_.append(builder.view());
  }
  finish_job();
}

void ImapServer::note_search_match(std::uint32_t number, TextBuilder& out) {
  SearchReturn& result = search_return_;
  if (result.matches == 0) {
    result.first = number;
    result.first_index = job_index_;
  }
  result.last = number;
  result.last_index = job_index_;
  if (result.all) {
    if (result.matches == 0) out.text(" ALL ");
    result.all_set.add(number, out);
  }
  ++result.matches;
}

// The rest of an ESEARCH response: the last run of ALL, then MIN, MAX and
// COUNT, known only now. No match has no MIN, MAX or ALL (RFC 4731 §3.1).
void ImapServer::finish_esearch() {
  const SearchReturn& result = search_return_;
  std::array<char, 80> text{};
  TextBuilder builder(text);
  search_return_.all_set.finish(builder);
  if (result.min && result.matches > 0) builder.text(" MIN ").number(result.first);
  if (result.max && result.matches > 0) builder.text(" MAX ").number(result.last);
  if (result.count) builder.text(" COUNT ").number(result.matches);
  PIGEON_ASSERT(builder.ok());
  out_.append(builder.view());
}

// The search is done: what it found becomes "$". Only the MIN and MAX
// messages when those are all it returned; a result of more runs than
// "$" holds is refused whole, and "$" is empty.
bool ImapServer::save_search_result() {
  const SearchReturn& result = search_return_;
  if (!result.save_all && result.matches > 0) {
    if (result.min) saved_result_.add(result.first_index, policy_.uid(result.first_index));
    if (result.max && (!result.min || result.last_index != result.first_index)) {
      saved_result_.add(result.last_index, policy_.uid(result.last_index));
    }
  }
  return saved_result_.commit();
}

bool ImapServer::search_matches(std::uint32_t index) {
  if (policy_.expunged_elsewhere(index)) return false;
  SearchProgram program(policy_, saved_result_, index, policy_.message_count());
  bool matches = false;
  return program.evaluate(search_program_, matches) && matches;
}

// ---------------------------------------------------------------- EXPUNGE

void ImapServer::begin_expunge(bool silent, std::string_view uid_set) {
  job_silent_ = silent;
  copy_move_ = false;
  expunge_refusal_ = ImapDecision::accepted();
  start_job(Job::expunge, uid_set, !uid_set.empty());
  pump_expunge();
}

// Removes the \Deleted messages, each announced at once (RFC 9051 §7.5.1:
// the numbers of later messages go down by one after each).
void ImapServer::pump_expunge() {
  if (copyuid_owed_) {
    if (out_.free_space() < reply_reserve_bytes) return;
    std::array<char, reply_reserve_bytes - 80> code{};
    std::array<char, reply_reserve_bytes - 8> line{};
    untagged(TextBuilder(line).text("OK [").text(copyuid_code(code)).text("] Moved").view());
    copyuid_owed_ = false;
  }
  std::array<char, 32> text{};
  while (job_index_ < (copy_move_ ? copy_batch_end_ : policy_.message_count())) {
    if (out_.free_space() < reply_reserve_bytes) return;
    if (!removes(job_index_)) {
      ++job_index_;
      continue;
    }
    const ImapDecision removed = policy_.expunge(job_index_);
    if (removed.kind != ImapDecision::Kind::accept) {
      // What could not be removed stays; what was removed is committed.
      if (expunge_refusal_.kind == ImapDecision::Kind::accept) expunge_refusal_ = removed;
      ++job_index_;
      continue;
    }
    --known_messages_;
    if (copy_move_) {
      --copy_batch_end_;
      ++job_removed_;
    }
    if (!job_silent_) untagged(TextBuilder(text).number(job_index_ + 1).text(" EXPUNGE").view());
  }
  finish_job();
}

// EXPUNGE removes the \Deleted messages (of the UID set); a MOVE the batch
// it just copied, whatever their flags.
// A message removed elsewhere is already gone: its own EXPUNGE comes with
// the session's next announcement, so this one passes it by.
bool ImapServer::removes(std::uint32_t index) {
  if (policy_.expunged_elsewhere(index)) return false;
  if (!copy_move_ && (policy_.flags(index) & imap_deleted) == 0) return false;
  return in_set(index);
}

// ---------------------------------------------------------------- COPY, MOVE

// COPY/MOVE sequence-set mailbox, and their UID forms (RFC 9051 §6.4.7,
// §6.4.8, RFC 6851).
void ImapServer::on_copy(Cursor& arguments, bool uid, bool move) {
  const std::string_view set = arguments.token();
  std::array<char, 256> buffer{};
  const auto name = arguments.space() ? astring_argument(arguments, buffer) : std::nullopt;
  if (!name || !arguments.at_end()) return bad(move ? "Syntax: MOVE sequence-set mailbox" : "Syntax: COPY sequence-set mailbox");
  if (!valid_set(set, uid, policy_.message_count())) return bad("Invalid sequence set");
  const auto mailbox = find_mailbox(*name);
  // The client may CREATE it and try again (RFC 9051 §6.4.7).
  if (!mailbox) return no("TRYCREATE", "No such mailbox");
  if (move && read_only_) return no("READ-ONLY", "Mailbox is read-only");
  start_job(Job::copy, set, uid);
  copy_move_ = move;
  copy_mailbox_ = *mailbox;
  expunge_refusal_ = ImapDecision::accepted();
  job_silent_ = false;
  // A COPY copies all or nothing: a message removed elsewhere, which has no
  // content, fails it before anything is copied (RFC 2180 §4.4.1).
  if (set_has_expunged_elsewhere()) {
    job_ = Job::none;
    return no("EXPUNGEISSUED", "Some of the requested messages no longer exist");
  }
  if (begin_copy_batch()) pump_copy();
}

bool ImapServer::set_has_expunged_elsewhere() {
  const std::uint32_t count = policy_.message_count();
  for (std::uint32_t index = 0; index < count; ++index) {
    if (in_set(index) && policy_.expunged_elsewhere(index)) return true;
  }
  return false;
}

// Opens the transaction of the next batch at the next message of the set;
// false when the command was answered instead (none is left, or refused).
bool ImapServer::begin_copy_batch() {
  if (!next_in_set(policy_.message_count())) {
    finish_copy();
    return false;
  }
  copy_batch_begin_ = job_index_;
  copy_uids_complete_ = true;
  structure_index_.reset();
  job_room_.emplace<CopyUids>();
  const ImapDecision decision = policy_.copy_begin(copy_mailbox_, copy_move_);
  PIGEON_ASSERT(decision.kind != ImapDecision::Kind::pending);
  if (decision.kind == ImapDecision::Kind::accept) return true;
  job_ = Job::none;
  no(decision.response_code, decision.text);
  return false;
}

// Copies the batch's messages (writing nothing until its end, so it runs to
// the end of the batch at once) and notes their UIDs for COPYUID.
void ImapServer::pump_copy() {
  const std::uint32_t count = policy_.message_count();
  for (; next_in_set(count); ++job_index_) {
    const bool room = copy_uids().source.has_room() && copy_uids().destination.has_room();
    if (!room && copy_move_) return end_copy_batch();
    const ImapDecision copied = policy_.copy_message(job_index_);
    PIGEON_ASSERT(copied.kind != ImapDecision::Kind::pending);
    if (copied.kind != ImapDecision::Kind::accept) return refuse_copy(copied);
    copy_uids_complete_ = copy_uids_complete_ && room;
    if (!copy_uids_complete_) continue;
    copy_uids().source.add(policy_.uid(job_index_));
    copy_uids().destination.add(policy_.copied_uid());
  }
  end_copy_batch();
}

void ImapServer::refuse_copy(const ImapDecision& decision) {
  policy_.copy_discard();
  job_ = Job::none;
  no(decision.response_code, decision.text);
}

// The batch, from copy_batch_begin_ to job_index_, is copied: its copies are
// made durable while the engine waits.
void ImapServer::end_copy_batch() {
  job_ = Job::none;
  copy_batch_end_ = job_index_;
  wait_ = Wait::copy;
  const ImapDecision decision = policy_.copy_commit();
  if (decision.kind != ImapDecision::Kind::pending) resume(decision);
}

// The batch's copies are durable: a COPY is done; a MOVE tells where they
// went before it removes them (RFC 9051 §6.4.8: COPYUID in an untagged OK
// before the EXPUNGEs).
void ImapServer::copy_kept() {
  if (copy_move_) {
    job_ = Job::expunge;
    job_index_ = copy_batch_begin_;
    copyuid_owed_ = true;  // said by the expunge job, once the output has room
    return pump_expunge();
  }
  std::array<char, reply_reserve_bytes - 80> code{};
  tagged("OK", copyuid_code(code), job_uid_ ? "UID COPY completed" : "COPY completed");
}

// A batch of a MOVE is copied and its sources are removed durably: on to
// the next batch.
void ImapServer::move_removed() {
  job_ = Job::copy;
  job_index_ = copy_batch_end_;
  if (begin_copy_batch()) pump_copy();
}

// No message of the set is left to copy.
void ImapServer::finish_copy() {
  job_ = Job::none;
  if (expunge_refusal_.kind == ImapDecision::Kind::reject) {
    return no(expunge_refusal_.response_code, expunge_refusal_.text);
  }
  if (copy_move_) return tagged_ok(job_uid_ ? "UID MOVE completed" : "MOVE completed");
  tagged_ok(job_uid_ ? "UID COPY completed" : "COPY completed");
}

// "COPYUID uidvalidity source-uids destination-uids" (RFC 4315 §3); empty
// when a COPY's sets outgrew their buffers.
std::string_view ImapServer::copyuid_code(std::span<char> out) {
  if (!copy_uids_complete_) return {};
  TextBuilder builder(out);
  builder.text("COPYUID ").number(policy_.status(copy_mailbox_).uid_validity).character(' ');
  builder.text(copy_uids().source.text()).character(' ').text(copy_uids().destination.text());
  PIGEON_ASSERT(builder.ok());
  return builder.view();
}

// ---------------------------------------------------------------- the end

void ImapServer::tls_started() {
  settings_.tls_active = true;
  wait_ = Wait::none;
  reset_command();
  command_too_long_ = false;
}

void ImapServer::abort_session(std::string_view text) {
  std::array<char, 200> line{};
  untagged(TextBuilder(line).text("BYE ").text(text).view());
  if (authenticated()) {
    if (state_ == State::selected) policy_.unselect();
    policy_.release();
  }
  state_ = State::logout;
  job_ = Job::none;
  append_ = Append::none;
  body_streaming_ = false;
  wait_ = Wait::none;
}

}  // namespace pigeon::protocol
