// POP3 server engine (RFC 1939, 2449 CAPA, 2595 STLS, 5034 SASL, 2449 RESP-CODES,
// 3206 AUTH-RESP-CODE). Sans-I/O like SmtpServer: bytes in through feed(),
// responses and message bytes out into a caller-owned OutputBuffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <algorithm>
#include <array>

#include "assert.hpp"
#include "dot_stuffer.hpp"
#include "line_scanner.hpp"
#include "output_buffer.hpp"
#include "session_engine.hpp"

namespace pigeon::protocol {

struct Pop3Decision {
  enum class Kind : std::uint8_t { accept, reject, pending };
  Kind kind = Kind::accept;
  std::string_view response_code;  // "AUTH", "IN-USE", "SYS/TEMP"; empty for none
  std::string_view text;

  static Pop3Decision accepted() { return {}; }
  static Pop3Decision rejected(std::string_view code, std::string_view text) {
    return {Kind::reject, code, text};
  }
  static Pop3Decision later() { return {Kind::pending, {}, {}}; }
};

// The messages a session marked with DELE, by zero-based index: a bit each,
// in words its owner gives, so that a board pays for the messages its spool
// holds and a host for its many (PIGEON_POP3_MAX_MESSAGES).
class DeletionMarks {
 public:
  using Word = std::uint32_t;
  static constexpr std::size_t word_bits = 32;
  static constexpr std::size_t words_for(std::size_t messages) { return (messages + word_bits - 1) / word_bits; }

  DeletionMarks() = default;
  explicit DeletionMarks(std::span<Word> words) : words_(words) {}
  // How many messages it can mark; a session shows no more.
  std::size_t size() const { return words_.size() * word_bits; }
  bool operator[](std::size_t index) const {
    PIGEON_ASSERT(index < size());
    return ((words_[index / word_bits] >> (index % word_bits)) & 1u) != 0;
  }
  void set(std::size_t index) {
    PIGEON_ASSERT(index < size());
    words_[index / word_bits] |= Word{1} << (index % word_bits);
  }
  void reset() { std::fill(words_.begin(), words_.end(), Word{0}); }
  bool none() const {
    return std::all_of(words_.begin(), words_.end(), [](Word word) { return word == 0; });
  }

 private:
  std::span<Word> words_;
};

// The maildrop as locked at login: message numbers are fixed for the session.
// Indexes here are zero-based; the engine speaks one-based message numbers.
class Pop3ServerPolicy {
 public:
  // USER/PASS and AUTH PLAIN. Accept means the maildrop is locked and its
  // snapshot taken; [IN-USE] when another session holds it. Usually pending.
  virtual Pop3Decision login(std::string_view authzid, std::string_view user,
                             std::string_view password) = 0;
  virtual std::size_t message_count() = 0;
  virtual std::uint32_t message_size_bytes(std::size_t index) = 0;
  // A unique-id (RFC 1939 §7, 1..70 printable characters) that stays the same
  // across sessions.
  virtual std::string_view unique_id(std::size_t index) = 0;
  // Reads stored message bytes (lines end in CRLF, not dot-stuffed) from
  // `offset`; returns how many, 0 at the end, nullopt when they cannot be read
  // (then RETR/TOP end with -ERR [SYS/TEMP] and the session closes: never a
  // terminating dot after a truncated message).
  virtual std::optional<std::size_t> read_message(std::size_t index, std::uint32_t offset,
                                                  std::span<std::uint8_t> out) = 0;
  // QUIT in the TRANSACTION state: remove the messages marked deleted. Pending
  // until the removal is durable; reject with SYS/TEMP when it failed.
  virtual Pop3Decision commit_deletions(const DeletionMarks& deleted) = 0;
  // The session ended without UPDATE (connection lost, timeout): unlock.
  virtual void release() = 0;
  // STLS: set a TLS session aside before the +OK, so that the handshake the +OK
  // promises can really follow. False answers -ERR [SYS/TEMP] and the session
  // goes on in plaintext.
  virtual bool reserve_tls() = 0;

 protected:
  ~Pop3ServerPolicy() = default;
};

struct Pop3ServerSettings {
  std::string_view host_name;
  bool tls_active = false;          // implicit TLS (995), or set by tls_started()
  bool stls_offered = false;
  bool login_requires_tls = true;   // USER/PASS/AUTH only after TLS ([AUTH]-less -ERR before)
  std::size_t max_messages = 256;   // messages beyond this are not shown
  // Where DELE's marks go: a session shows no more messages than they hold.
  std::span<DeletionMarks::Word> deletion_marks;
};

class Pop3Server final : public SessionEngine {
 public:
  static constexpr std::size_t reply_reserve_bytes = 512;

  Pop3Server(Pop3ServerPolicy& policy, OutputBuffer& out,
             const Pop3ServerSettings& settings);

  void start();  // queues the +OK greeting
  // Consumes what it can; stops while a decision is pending, while a RETR/TOP
  // is streaming, after +OK to STLS, and after QUIT.
  std::size_t feed(std::span<const std::uint8_t> input) override;
  // Continues a RETR/TOP/LIST/UIDL multi-line response into free output space.
  void pump();
  void resume(const Pop3Decision& decision);
  void tls_started() override;  // forget everything said before the handshake
  void abort_session(std::string_view text);  // -ERR and end (timeouts)

  bool awaiting_decision() const override;
  bool streaming() const;
  bool awaiting_tls() const override;
  bool finished() const override;

 private:
  enum class State : std::uint8_t { authorization, transaction, finished };
  enum class Wait : std::uint8_t { none, decision, tls, auth_plain_response };
  // What a streaming multi-line response is sending.
  enum class Listing : std::uint8_t { none, message, list, uidl };

  void handle_line(std::string_view line);
  void handle_authorization(std::string_view verb, std::string_view argument);
  void handle_transaction(std::string_view verb, std::string_view argument);
  void on_capa();
  void on_auth(std::string_view argument);
  void finish_auth_plain(std::string_view response);
  void on_stat();
  void on_list_or_uidl(std::string_view argument, bool uidl);
  void on_retr_or_top(std::string_view argument, bool top);
  void on_dele(std::string_view argument);
  void on_quit();
  std::size_t visible_message_count();
  // A message number argument that names an existing, undeleted message.
  std::optional<std::size_t> message_index(std::string_view argument);
  void abandon_message();
  void pump_message();
  void pump_listing();
  void write_listing_line(std::size_t index);
  void ok(std::string_view text);
  void error(std::string_view code, std::string_view text);
  void begin_login(std::string_view authzid, std::string_view user, std::string_view password);

  Pop3ServerPolicy& policy_;
  OutputBuffer& out_;
  Pop3ServerSettings settings_;
  LineScanner scanner_;
  State state_ = State::authorization;
  Wait wait_ = Wait::none;
  std::array<char, 256> user_{};  // from USER, until PASS
  std::size_t user_length_ = 0;
  DeletionMarks deleted_;

  Listing listing_ = Listing::none;
  // TOP's place in the message, carried across pieces: the headers, the
  // blank line, then the asked-for number of body lines.
  struct TopLines {
    std::uint32_t body_lines_left = 0;
    bool in_body = false;  // past the blank line after the headers
    bool at_line_start = true;
    bool line_empty = true;

    // How much of `piece` TOP sends; counts the lines in that part.
    std::size_t length(std::span<const std::uint8_t> piece);
    bool done() const { return in_body && at_line_start && body_lines_left == 0; }
  };

  std::size_t listing_index_ = 0;      // message being sent, or next LIST/UIDL line
  std::uint32_t message_offset_ = 0;   // bytes of it sent so far
  bool top_ = false;
  TopLines top_lines_;
  DotStuffer stuffer_;
};

}  // namespace pigeon::protocol
