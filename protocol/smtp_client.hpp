// SMTP client engine for relaying to a smarthost (RFC 5321, 3207, 4954, 2920,
// 1870, 6152, 2034/3463). Sans-I/O like the server: replies in through feed(),
// commands and message bytes out into a caller-owned OutputBuffer, outcomes
// through SmtpClientEvents. The body is pulled from the caller in pieces, so
// no message is held whole in RAM. No sockets, TLS, flash or clock here: the
// connection applies timeouts using waiting_for().
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dot_stuffer.hpp"
#include "line_scanner.hpp"
#include "mailbox_address.hpp"
#include "output_buffer.hpp"
#include "session_engine.hpp"

namespace pigeon::protocol {

// A server reply, or one the engine made up for a failure it detected itself
// (then `local` is true). Views are valid during the callback only.
struct SmtpClientReply {
  std::uint16_t code = 0;
  std::string_view enhanced;  // "4.2.0"; empty when the server gave none
  std::string_view text;      // the last line's text after the codes; only
                              // HT and printable ASCII, else a fixed notice
  bool local = false;

  bool positive() const { return code >= 200 && code < 400; }
  bool permanent() const { return code >= 500; }
};

// One transaction: the sender, how many recipients (their addresses are
// pulled through SmtpClientEvents::recipient_address() as each RCPT is
// written, so that no list of them is held in RAM), and the size and kind of
// the body the caller will hand out through SmtpClientEvents::read_body().
struct SmtpClientMessage {
  std::string_view reverse_path;  // empty for the null sender <>
  std::size_t recipient_count = 0;
  std::uint32_t size_bytes = 0;
  bool body_8bit = false;
};

class SmtpClientEvents {
 public:
  // Called once per recipient of the current message with its outcome: the
  // refusal of MAIL or RCPT, or the reply to the end of data.
  virtual void recipient_result(std::size_t index, const SmtpClientReply& reply) = 0;
  // The transaction is over (every recipient has its result); send() may be
  // called again.
  virtual void transaction_finished() = 0;
  // The connection is unusable (421, a failed greeting, EHLO, STARTTLS or AUTH,
  // a malformed reply). Recipients without a result yet get none: they were
  // not delivered. The engine is finished().
  virtual void session_failed(const SmtpClientReply& reply) = 0;
  // Message bytes from `offset` (line ends CRLF, not dot-stuffed); 0 at the
  // end, nullopt when they cannot be read (the transaction then fails with a
  // local 451 and the data is never ended).
  virtual std::optional<std::size_t> read_body(std::uint32_t offset, std::span<std::uint8_t> out) = 0;
  // The address of recipient `index` (0 .. recipient_count-1), written into
  // `out` or viewing storage the caller keeps; the view is used at once. May
  // be asked more than once for the same index (an output buffer that was
  // full). nullopt when it cannot be read: the session then fails with a
  // local 451, like an unreadable body.
  virtual std::optional<std::string_view> recipient_address(std::size_t index,
                                                            std::span<char, max_path_bytes> out) = 0;

 protected:
  ~SmtpClientEvents() = default;
};

struct SmtpClientSettings {
  std::string_view helo_name;
  bool starttls = false;      // issue STARTTLS; a server that does not offer it fails
  bool tls_active = false;    // implicit TLS: the transport is already encrypted
  std::string_view user;      // AUTH with these when not empty
  std::string_view password;
  bool allow_pipelining = true;  // use PIPELINING when the server offers it
};

class SmtpClient final : public SessionEngine {
 public:
  // Recipients one transaction may carry (per-recipient results are a bitset).
  static constexpr std::size_t max_recipients = 128;
  // The longest command the engine writes (AUTH PLAIN with 255-octet fields).
  static constexpr std::size_t command_reserve_bytes = 720;

  // What the engine waits for: the connection picks its timeout from this
  // (RFC 5321 §4.5.3.2).
  enum class Wait : std::uint8_t {
    greeting, ehlo, starttls, tls_handshake, auth, idle, mail, rcpt, data, data_block, data_end, rset, quit,
    done,
  };

  SmtpClient(SmtpClientEvents& events, OutputBuffer& out,
             const SmtpClientSettings& settings);

  // Consumes replies from `input`; returns how many bytes it consumed. It stops
  // after the 220 to STARTTLS (the caller discards the rest: RFC 3207 §4.2),
  // while ready_for_message() (the caller sends or quits first), and once
  // finished().
  std::size_t feed(std::span<const std::uint8_t> input) override;
  // Writes what can be written now (pipelined commands, body pieces). Call it
  // whenever the output buffer has drained.
  void pump();
  // The TLS handshake after STARTTLS finished: forget the capabilities, EHLO again.
  void tls_started() override;
  // Starts a transaction; only while ready_for_message().
  void send(const SmtpClientMessage& message);
  // Ends the session politely; only while ready_for_message().
  void quit();

  bool ready_for_message() const { return phase_ == Phase::idle; }
  bool awaiting_tls() const override { return phase_ == Phase::tls_handshake; }
  bool finished() const override { return phase_ == Phase::done; }
  Wait waiting_for() const;

  // What the server offered in its last EHLO answer.
  struct Capabilities {
    bool extended = false;  // EHLO worked (HELO otherwise)
    bool pipelining = false;
    bool starttls = false;
    bool eight_bit_mime = false;
    bool size = false;                 // SIZE offered (RFC 1870)
    bool auth_plain = false;
    bool auth_login = false;
    std::uint32_t max_size_bytes = 0;  // 0: no limit given
  };
  const Capabilities& capabilities() const { return capabilities_; }

 private:
  enum class Phase : std::uint8_t {
    greeting, ehlo, helo, starttls, tls_handshake, auth_login_user, auth_login_password, auth_result,
    idle, transaction, body, data_end, rset, quit, done,
  };

  void handle_line(std::string_view line);
  void handle_reply(const SmtpClientReply& reply);
  void on_greeting(const SmtpClientReply& reply);
  void on_ehlo(const SmtpClientReply& reply);
  void on_helo(const SmtpClientReply& reply);
  void on_starttls(const SmtpClientReply& reply);
  void on_auth(const SmtpClientReply& reply);
  void on_transaction_reply(const SmtpClientReply& reply);
  void on_data_reply(const SmtpClientReply& reply);
  void on_data_end(const SmtpClientReply& reply);
  void note_capability(std::string_view keyword_line);
  void after_ehlo();
  void start_auth();
  void become_idle();
  void fail(const SmtpClientReply& reply);
  void fail_local(std::uint16_t code, std::string_view enhanced, std::string_view text);
  void report_unreported(const SmtpClientReply& reply);
  void report(std::size_t index, const SmtpClientReply& reply);
  void end_transaction();
  bool message_acceptable();
  void write_pending_commands();
  bool write_transaction_command(std::size_t index);
  void write_body();
  bool write_command(std::string_view command);
  bool write_auth_secret(std::string_view secret);
  std::size_t transaction_commands() const { return message_.recipient_count + 2; }

  SmtpClientEvents& events_;
  OutputBuffer& out_;
  SmtpClientSettings settings_;
  LineScanner scanner_;
  Phase phase_ = Phase::greeting;
  Capabilities capabilities_;
  bool first_reply_line_ = true;  // the next line starts a reply

  SmtpClientMessage message_;
  // Commands of the transaction: MAIL, one RCPT per recipient, DATA. With
  // PIPELINING they go out together (RFC 2920 §3.1: DATA ends the group).
  std::size_t commands_written_ = 0;
  std::size_t replies_read_ = 0;
  bool mail_accepted_ = false;
  std::bitset<max_recipients> accepted_;
  std::bitset<max_recipients> reported_;
  std::uint32_t body_offset_ = 0;
  bool body_done_ = false;
  DotStuffer stuffer_;
  std::array<std::uint8_t, 512> body_piece_{};
  std::size_t body_piece_length_ = 0;
  std::size_t body_piece_used_ = 0;
};

}  // namespace pigeon::protocol
