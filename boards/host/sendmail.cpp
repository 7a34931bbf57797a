#include "sendmail.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

#include "firmware/config.hpp"
#include "local_socket.hpp"
#include "protocol/ascii.hpp"
#include "protocol/dot_stuffer.hpp"

namespace pigeon::host {
namespace {

constexpr std::size_t max_header_bytes = 64 * 1024;
constexpr std::size_t max_recipients = PIGEON_MAX_RECIPIENTS;
constexpr int reply_timeout_s = 300;  // the longest RFC 5321 wait (§4.5.3.2), for the reply to the final dot

struct Options {
  bool recipients_from_headers = false;
  bool dot_ends_message = true;
  const char* sender = nullptr;
  const char* full_name = nullptr;
  const char* config_path = std::getenv("PIGEON_CONFIG");
  std::array<std::string_view, max_recipients> recipients{};
  std::size_t recipient_count = 0;

  bool add_recipient(std::string_view address) {
    if (address.empty()) return true;
    if (recipient_count == recipients.size()) return false;
    recipients[recipient_count++] = address;
    return true;
  }
};

int fail(int status, const char* what) { return report_failure("sendmail", status, what); }

// "-fADDRESS" or "-f ADDRESS": the value, or nullptr when it is missing.
const char* option_value(int argc, char** argv, int& i) {
  if (argv[i][2] != '\0') return argv[i] + 2;
  return i + 1 < argc ? argv[++i] : nullptr;
}

bool parse_options(int argc, char** argv, int first, Options& options) {
  int i = first;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "-t") {
      options.recipients_from_headers = true;
    } else if (arg == "-i" || arg == "-oi") {
      options.dot_ends_message = false;
    } else if (arg == "-oem" || arg == "-oee" || arg == "-oep" || arg == "-odi" || arg == "-odb") {
      // Errors always go to stderr and the exit status; delivery is always the relay's.
    } else if (arg.starts_with("-f") || arg.starts_with("-r")) {
      if ((options.sender = option_value(argc, argv, i)) == nullptr) return false;
    } else if (arg.starts_with("-F")) {
      if ((options.full_name = option_value(argc, argv, i)) == nullptr) return false;
    } else if (arg.starts_with("-C")) {
      if ((options.config_path = option_value(argc, argv, i)) == nullptr) return false;
    } else if (arg.starts_with("-B")) {
      // The body type Debian's cron gives (-B8BITMIME): the relay keeps the bytes as they are.
      const char* type = option_value(argc, argv, i);
      if (type == nullptr || (std::string_view(type) != "7BIT" && std::string_view(type) != "8BITMIME")) return false;
    } else {
      return false;
    }
  }
  for (; i < argc; ++i) {
    if (!options.add_recipient(argv[i])) return false;
  }
  return true;
}

// Standard input one piece at a time: a line, or part of a long one, without
// its line ending. Ends at end of file, or at a line of a single dot unless -i.
class Input {
 public:
  explicit Input(bool dot_ends_message) : dot_ends_message_(dot_ends_message) {}

  struct Piece {
    std::string_view text;
    bool line_start = true;
    bool line_end = true;
  };

  bool next(Piece& piece) {
    if (ended_ || std::fgets(buffer_.data(), static_cast<int>(buffer_.size()), stdin) == nullptr) return false;
    std::string_view text(buffer_.data());
    piece.line_start = at_line_start_;
    piece.line_end = text.ends_with('\n');
    if (piece.line_end) text.remove_suffix(text.ends_with("\r\n") ? 2 : 1);
    at_line_start_ = piece.line_end;
    piece.text = text;
    ended_ = dot_ends_message_ && piece.line_start && piece.line_end && text == ".";
    return !ended_;
  }

 private:
  bool dot_ends_message_;
  bool ended_ = false;  // the lone dot came: what follows it is not read
  bool at_line_start_ = true;
  std::array<char, 4096> buffer_{};
};

// The header section as it will be sent (CRLF line ends, without Bcc when -t),
// and the To, Cc and Bcc fields' text for -t.
struct Headers {
  std::array<char, max_header_bytes> text{};
  std::size_t length = 0;
  std::array<char, max_header_bytes> recipient_fields{};
  std::size_t recipient_fields_length = 0;
  bool has_from = false;

  bool append(std::array<char, max_header_bytes>& to, std::size_t& used, std::string_view bytes) {
    if (to.size() - used < bytes.size()) return false;
    bytes.copy(to.data() + used, bytes.size());
    used += bytes.size();
    return true;
  }
  std::string_view view() const { return {text.data(), length}; }
  std::string_view recipient_view() const { return {recipient_fields.data(), recipient_fields_length}; }
};

enum class Field : std::uint8_t { other, recipients, blind_copies };

// The field a header line starts, from its name ("To:", "bcc :").
Field field_kind(std::string_view line, bool& has_from) {
  const std::string_view name = ascii::trim(line.substr(0, line.find(':')));
  if (ascii::iequals(name, "from")) has_from = true;
  if (ascii::iequals(name, "bcc")) return Field::blind_copies;
  return ascii::iequals(name, "to") || ascii::iequals(name, "cc") ? Field::recipients : Field::other;
}

bool is_header_field(std::string_view line) {
  const std::size_t colon = line.find(':');
  return colon != std::string_view::npos && colon > 0 &&
         line.substr(0, colon).find_first_of(" \t") == std::string_view::npos;
}

// Reads the header section. `body_start` gets the first body piece when the
// message has no blank line after its headers (or none at all); false when the
// headers do not fit.
bool read_headers(Input& input, bool recipients_from_headers, Headers& headers, Input::Piece& body_start,
                  bool& has_body_start) {
  Field field = Field::other;
  Input::Piece piece;
  has_body_start = false;
  while (input.next(piece)) {
    const bool continuation = !piece.line_start || piece.text.starts_with(' ') || piece.text.starts_with('\t');
    if (piece.line_start && piece.text.empty() && piece.line_end) return true;  // the blank line
    if (!continuation && !is_header_field(piece.text)) {
      body_start = piece;
      has_body_start = true;
      return true;
    }
    if (!continuation) field = field_kind(piece.text, headers.has_from);
    if (recipients_from_headers && field != Field::other) {
      const std::string_view value = continuation ? piece.text : piece.text.substr(piece.text.find(':') + 1);
      if (!headers.append(headers.recipient_fields, headers.recipient_fields_length, value) ||
          !headers.append(headers.recipient_fields, headers.recipient_fields_length, piece.line_end ? "," : "")) {
        return false;
      }
    }
    if (recipients_from_headers && field == Field::blind_copies) continue;
    if (!headers.append(headers.text, headers.length, piece.text) ||
        !headers.append(headers.text, headers.length, piece.line_end ? "\r\n" : "")) {
      return false;
    }
  }
  return true;
}

// One address of an RFC 5322 list item: inside <...>, or the bare text
// without a (comment).
std::string_view item_address(std::string_view item) {
  const std::size_t open = item.find('<');
  const std::size_t close = item.rfind('>');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    return ascii::trim(item.substr(open + 1, close - open - 1));
  }
  return ascii::trim(item.substr(0, item.find('(')));
}

// The addresses of To, Cc and Bcc field bodies joined by commas: items split
// at commas outside quotes and angle brackets; a group's name ("friends:")
// and its closing ';' are dropped.
bool add_header_recipients(std::string_view list, Options& options) {
  bool quoted = false, in_angle = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= list.size(); ++i) {
    const char c = i < list.size() ? list[i] : ',';
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '<') in_angle = true;
    if (c == '>') in_angle = false;
    if (in_angle) continue;
    if (c == ':') start = i + 1;  // a group's display name
    if (c == ',' || c == ';') {
      if (!options.add_recipient(item_address(list.substr(start, i - start)))) return false;
      start = i + 1;
    }
  }
  return true;
}

// A blocking SMTP conversation with the relay, one command at a time.
class RelayClient {
 public:
  ~RelayClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Asks the relay's local socket for an SMTP session.
  bool connect(const char* socket_path) {
    fd_ = connect_local(socket_path, "SMTP", reply_timeout_s);
    return fd_ >= 0;
  }

  bool send(std::string_view text) {
    while (!text.empty()) {
      const ssize_t sent = ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // The code of the next reply (its last line), 0 when the connection failed.
  // `last_line` keeps its text for messages.
  int reply() {
    for (;;) {
      const std::string_view pending(buffer_.data(), used_);
      const std::size_t end = pending.find("\r\n");
      if (end != std::string_view::npos) {
        const std::string_view line = pending.substr(0, end);
        const bool last = line.size() < 4 || line[3] != '-';
        line.copy(last_line_.data(), std::min(line.size(), last_line_.size() - 1));
        last_line_[std::min(line.size(), last_line_.size() - 1)] = '\0';
        std::memmove(buffer_.data(), buffer_.data() + end + 2, used_ - end - 2);
        used_ -= end + 2;
        if (last) return std::atoi(last_line_.data());
        continue;
      }
      if (used_ == buffer_.size()) return 0;
      const ssize_t got = ::recv(fd_, buffer_.data() + used_, buffer_.size() - used_, 0);
      if (got <= 0) return 0;
      used_ += static_cast<std::size_t>(got);
    }
  }

  const char* last_line() const { return last_line_.data(); }

 private:
  int fd_ = -1;
  std::array<char, 1024> buffer_{};
  std::size_t used_ = 0;
  std::array<char, 600> last_line_{};
};

// One command and the reply class it must get; the exit status otherwise.
int command(RelayClient& relay, std::string_view text, int expected_class, int permanent_status) {
  if (!text.empty() && !relay.send(text)) return fail(ex_tempfail, "the relay closed the connection");
  const int code = relay.reply();
  if (code / 100 == expected_class) return ex_ok;
  const std::string_view asked = text.empty() ? std::string_view("(waiting)") : text.substr(0, text.find('\r'));
  std::fprintf(stderr, "sendmail: %.*s: the relay answered %s\n", static_cast<int>(asked.size()), asked.data(),
               code == 0 ? "nothing" : relay.last_line());
  return code / 100 == 5 ? permanent_status : ex_tempfail;
}

int send_envelope(RelayClient& relay, std::string_view sender, const Options& options) {
  char line[600];
  const auto format = [&line](const char* pattern, std::string_view value) {
    const int length = std::snprintf(line, sizeof line, pattern, static_cast<int>(value.size()), value.data());
    return std::string_view(line, static_cast<std::size_t>(std::max(length, 0)));
  };
  if (int status = command(relay, "", 2, ex_unavailable)) return status;  // the greeting
  if (int status = command(relay, "EHLO localhost\r\n", 2, ex_unavailable)) return status;
  if (int status = command(relay, format("MAIL FROM:<%.*s>\r\n", sender), 2, ex_dataerr)) return status;
  for (std::size_t i = 0; i < options.recipient_count; ++i) {
    if (int status = command(relay, format("RCPT TO:<%.*s>\r\n", options.recipients[i]), 2, ex_nouser)) {
      return status;
    }
  }
  return command(relay, "DATA\r\n", 3, ex_unavailable);
}

// Sends `text` (one piece of a line) dot-stuffed, with CRLF when it ends a line.
bool send_stuffed(RelayClient& relay, protocol::DotStuffer& stuffer, protocol::OutputBuffer& out,
                  std::string_view text, bool line_end) {
  for (const std::string_view part : {text, line_end ? std::string_view("\r\n") : std::string_view()}) {
    auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(part.data()), part.size());
    while (!bytes.empty()) {
      bytes = bytes.subspan(stuffer.write(bytes, out));
      if (out.free_space() < 8) {
        const auto pending = out.pending();
        if (!relay.send({reinterpret_cast<const char*>(pending.data()), pending.size()})) return false;
        out.clear();
      }
    }
  }
  return true;
}

int send_message(RelayClient& relay, const Headers& headers, std::string_view from_line, Input& input,
                 const Input::Piece* body_start) {
  static std::array<std::uint8_t, 8192> storage;
  protocol::OutputBuffer out(storage);
  protocol::DotStuffer stuffer;
  bool sent = send_stuffed(relay, stuffer, out, headers.view(), false) &&
              send_stuffed(relay, stuffer, out, from_line, false) && send_stuffed(relay, stuffer, out, "", true);
  if (sent && body_start != nullptr) sent = send_stuffed(relay, stuffer, out, body_start->text, body_start->line_end);
  Input::Piece piece;
  while (sent && input.next(piece)) sent = send_stuffed(relay, stuffer, out, piece.text, piece.line_end);
  if (sent) sent = stuffer.finish(out);
  const auto pending = out.pending();
  if (!sent || !relay.send({reinterpret_cast<const char*>(pending.data()), pending.size()})) {
    return fail(ex_tempfail, "the relay closed the connection during the message");
  }
  if (int status = command(relay, "", 2, ex_unavailable)) return status;
  (void)relay.send("QUIT\r\n");
  return ex_ok;
}

// The envelope sender: -f, else the user's name at the relay's host name.
std::string_view envelope_sender(const Options& options, const RelayConfig& config, std::span<char> storage) {
  if (options.sender != nullptr) return options.sender;
  const char* user = std::getenv("LOGNAME");
  if (user == nullptr) user = std::getenv("USER");
  const std::string_view host = config.host_name.view();
  const int length = std::snprintf(storage.data(), storage.size(), "%s@%.*s", user != nullptr ? user : "root",
                                   static_cast<int>(host.size()), host.data());
  return {storage.data(), static_cast<std::size_t>(std::max(length, 0))};
}

}  // namespace

bool called_as_sendmail(int argc, char** argv) {
  if (argc < 1) return false;
  const std::string_view program = argv[0];
  const std::size_t slash = program.rfind('/');
  return program.substr(slash == std::string_view::npos ? 0 : slash + 1) == "sendmail" ||
         (argc > 1 && std::string_view(argv[1]) == "sendmail");
}

int run_sendmail(int argc, char** argv) {
  static Options options;
  const int first = std::string_view(argv[0]).ends_with("sendmail") ? 1 : 2;
  if (!parse_options(argc, argv, first, options)) {
    return fail(ex_usage, "usage: sendmail [-t] [-i] [-f sender] [-F name] [-C pigeon.conf] [--] [recipient...]");
  }
  static RelayConfig config;
  if (!read_relay_config(options.config_path, config)) return fail(ex_config, "cannot read the pigeon configuration");
  std::array<char, 256> socket_path_storage{};
  const char* socket_path = client_socket_path(config, socket_path_storage);
  if (socket_path == nullptr) return fail(ex_config, "the local socket's path is too long");

  static Headers headers;
  Input input(options.dot_ends_message);
  Input::Piece body_start;
  bool has_body_start = false;
  if (!read_headers(input, options.recipients_from_headers, headers, body_start, has_body_start)) {
    return fail(ex_dataerr, "the header section is too large");
  }
  if (options.recipients_from_headers && !add_header_recipients(headers.recipient_view(), options)) {
    return fail(ex_dataerr, "too many recipients");
  }
  if (options.recipient_count == 0) return fail(ex_usage, "no recipients");

  std::array<char, 300> sender_storage{};
  const std::string_view sender = envelope_sender(options, config, sender_storage);
  std::array<char, 700> from_storage{};
  std::string_view from_line;
  if (!headers.has_from && options.full_name != nullptr) {
    const int length = std::snprintf(from_storage.data(), from_storage.size(), "From: %s <%.*s>\r\n",
                                     options.full_name, static_cast<int>(sender.size()), sender.data());
    from_line = {from_storage.data(), static_cast<std::size_t>(std::max(length, 0))};
  }

  RelayClient relay;
  if (!relay.connect(socket_path)) return report_unreachable("sendmail", socket_path);
  if (int status = send_envelope(relay, sender, options)) return status;
  return send_message(relay, headers, from_line, input, has_body_start ? &body_start : nullptr);
}

}  // namespace pigeon::host
