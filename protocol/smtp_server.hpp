// SMTP server engine (RFC 5321, 6409, 3207, 4954, 2920, 1870, 6152, 2034/3463).
// Sans-I/O: bytes in through feed(), replies out into a caller-owned OutputBuffer,
// every decision through SmtpServerPolicy. No sockets, TLS, flash or clock here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <array>

#include "line_scanner.hpp"
#include "output_buffer.hpp"
#include "session_engine.hpp"

namespace pigeon::protocol {

struct SmtpReply {
  std::uint16_t code = 0;          // 0 means "the engine's own success reply"
  std::string_view enhanced;       // "2.1.0"; empty when none applies
  std::string_view text;
};

// The policy's answer to one step of a session.
struct SmtpDecision {
  enum class Kind : std::uint8_t { accept, reject, pending };
  Kind kind = Kind::accept;
  SmtpReply reply;                 // for reject; for accept, code 0 keeps the default

  static SmtpDecision accepted() { return {}; }
  static SmtpDecision accepted(SmtpReply r) { return {Kind::accept, r}; }
  static SmtpDecision rejected(SmtpReply r) { return {Kind::reject, r}; }
  // The answer comes later through SmtpServer::resume(); the engine stops
  // consuming input until then.
  static SmtpDecision later() { return {Kind::pending, {}}; }
};

struct MailParameters {
  std::uint32_t declared_size_bytes = 0;   // SIZE=, 0 when absent
  bool body_8bit = false;                   // BODY=8BITMIME
};

class SmtpServerPolicy {
 public:
  // The path without angle brackets; empty for the null reverse-path <>.
  virtual SmtpDecision mail_from(std::string_view reverse_path, const MailParameters& params) = 0;
  virtual SmtpDecision rcpt_to(std::string_view forward_path) = 0;
  // DATA accepted by the engine's sequencing rules: open storage for a message.
  virtual SmtpDecision data_begin() = 0;
  // Message bytes after dot-unstuffing, lines ending in CRLF, in order. False when
  // storage failed; the engine then reads to the end of DATA, calls data_abort()
  // and answers storage_failure() without storing anything more.
  virtual bool data_chunk(std::span<const std::uint8_t> bytes) = 0;
  // Why the failed data_chunk() failed, as the reply to the final dot.
  virtual SmtpReply storage_failure() const { return {452, "4.3.1", "Insufficient system storage"}; }
  // The final CRLF.CRLF arrived and the message was clean: commit it. Usually
  // pending until the spool's commit is durable.
  virtual SmtpDecision data_end() = 0;
  // The message will not be stored (bare CR/LF, NUL, too big, storage error,
  // connection lost): drop what data_chunk() wrote.
  virtual void data_abort() = 0;
  // The envelope is gone (RSET, EHLO/HELO, new session after STARTTLS, or after
  // a finished DATA).
  virtual void transaction_reset() = 0;
  // SASL PLAIN or LOGIN credentials; usually pending (hashing takes time, and a
  // failure is answered after a delay).
  virtual SmtpDecision authenticate(std::string_view authzid, std::string_view authcid,
                                    std::string_view password) = 0;
  // STARTTLS: set a TLS session aside before the 220, so that the handshake the
  // 220 promises can really follow. False answers 454 4.7.0 and the session goes
  // on in plaintext (RFC 3207 §4).
  virtual bool reserve_tls() = 0;

 protected:
  ~SmtpServerPolicy() = default;
};

struct SmtpServerSettings {
  std::string_view host_name;
  std::uint32_t max_message_bytes = 10u * 1024 * 1024;
  std::uint16_t max_recipients = 100;
  bool tls_active = false;        // implicit TLS listener (465), or set by tls_started()
  bool starttls_offered = false;  // a certificate is available on this listener
  bool auth_offered = true;       // AUTH may be used on this listener at all
  bool auth_requires_tls = true;  // AUTH only after TLS (530 5.7.0 before)
  bool auth_required = false;     // submission: MAIL needs AUTH first (530 5.7.0)
};

class SmtpServer final : public SessionEngine {
 public:
  // The longest host name, and the longest EHLO argument kept: a domain is at
  // most 255 octets (RFC 1035 §2.3.4).
  static constexpr std::size_t max_host_name_bytes = 255;
  // The minimum free space the engine needs in the output buffer to handle one
  // command; feed() stops while less is free. The longest reply is EHLO's with
  // both names at their longest: a 524-octet first line and 122 octets of
  // extensions (smtp_server.cpp checks the sum). The connection's output
  // buffer must hold at least this much.
  static constexpr std::size_t reply_reserve_bytes = 646;

  SmtpServer(SmtpServerPolicy& policy, OutputBuffer& out,
             const SmtpServerSettings& settings);

  // Queues the 220 greeting.
  void start();
  // Consumes what it can of `input` and returns how many bytes it consumed. It
  // stops early while a decision is pending, while the output buffer lacks
  // reply_reserve_bytes, after the 220 to STARTTLS, and after QUIT.
  std::size_t feed(std::span<const std::uint8_t> input) override;
  // Delivers the answer to the pending decision and queues its reply.
  void resume(const SmtpDecision& decision);
  // The TLS handshake after STARTTLS finished: all session state is forgotten
  // (RFC 3207 §4.2) and the session continues under TLS.
  void tls_started() override;
  // Queues a 421 (timeout, shutdown, too many errors) and ends the session.
  void abort_session(SmtpReply reply);

  bool awaiting_decision() const override;
  // The 220 to STARTTLS is queued: drain output, discard unconsumed input, then
  // run the handshake and call tls_started().
  bool awaiting_tls() const override;
  // QUIT answered or the session aborted: drain output, then close.
  bool finished() const override;
  bool authenticated() const { return authenticated_; }
  std::string_view authenticated_user() const { return {user_.data(), user_length_}; }
  // The name the client gave in EHLO/HELO, for the Received header.
  std::string_view client_name() const { return {client_name_.data(), client_name_length_}; }

 private:
  enum class Phase : std::uint8_t {
    command,
    auth_plain_response,   // waiting for the PLAIN message after "334 "
    auth_login_username,
    auth_login_password,
    data,
    awaiting_decision,
    awaiting_tls,
    finished,
  };
  // Which step a pending decision answers, so resume() knows what success means.
  enum class Step : std::uint8_t { none, mail, rcpt, data_begin, data_end, auth };

  // The DATA scanner's position relative to line structure (docs/architecture.md §6).
  enum class DataState : std::uint8_t { line_start, in_line, after_cr, dot, dot_cr };

  void on_line_too_long();
  void handle_line(std::string_view line);
  void handle_command(std::string_view line);
  void handle_auth_response(std::string_view line);
  void on_ehlo(std::string_view argument, bool extended);
  void on_mail(std::string_view argument);
  void on_rcpt(std::string_view argument);
  void on_data(std::string_view argument);
  void on_rset();
  void on_starttls(std::string_view argument);
  void on_auth(std::string_view argument);
  void finish_auth_plain(std::string_view response);
  void finish_auth_login();
  void authenticate(std::string_view authzid, std::string_view authcid, std::string_view password);
  bool mail_allowed();
  void apply(Step step, const SmtpDecision& decision);
  void on_success(Step step, const SmtpReply& custom);
  std::size_t scan_data(std::span<const std::uint8_t> input);
  void end_of_data();
  void emit_data(std::span<const std::uint8_t> bytes);
  void reset_transaction();
  void reset_session();
  void reply(std::uint16_t code, std::string_view enhanced, std::string_view text);
  void reply(const SmtpReply& r) { reply(r.code, r.enhanced, r.text); }
  bool try_reply(const SmtpReply& r);
  void append(std::string_view text);

  SmtpServerPolicy& policy_;
  OutputBuffer& out_;
  SmtpServerSettings settings_;
  LineScanner scanner_;
  Phase phase_ = Phase::command;
  Step pending_step_ = Step::none;

  bool greeted_ = false;
  bool authenticated_ = false;
  std::array<char, max_host_name_bytes> client_name_{};
  std::size_t client_name_length_ = 0;
  std::array<char, 255> user_{};
  std::size_t user_length_ = 0;
  std::array<char, 255> pending_user_{};  // authcid while its check is pending
  std::size_t pending_user_length_ = 0;

  bool mail_given_ = false;
  std::uint16_t recipient_count_ = 0;

  DataState data_state_ = DataState::line_start;
  std::uint32_t data_bytes_ = 0;
  std::uint32_t line_bytes_ = 0;
  bool bad_line_ending_ = false;  // bare CR, bare LF or NUL seen
  bool line_too_long_ = false;
  bool too_big_ = false;
  bool storage_failed_ = false;
};

}  // namespace pigeon::protocol
