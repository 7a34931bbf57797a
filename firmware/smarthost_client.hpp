// One connection to the smarthost (docs/architecture.md §7): connect, TLS (implicit or
// STARTTLS, verified by SmarthostTlsClient), the sans-I/O SMTP client engine,
// and as many messages as the scheduler hands out before QUIT. Bodies stream
// from the spool in small pieces. Every wait has the timeout RFC 5321
// §4.5.3.2 gives it. What happened to each recipient goes back to the
// scheduler (SmarthostWork), which records it and decides about retries.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fixed_string.hpp"
#include "protocol/mailbox_address.hpp"
#include "protocol/smtp_client.hpp"
#include "relay_services.hpp"
#include "session_transport.hpp"
#include "smarthost_tls.hpp"

namespace pigeon {

// Turns the configured smarthost name into an address. Board-neutral: a board
// with DNS answers later (would_block); the literal resolver knows numeric
// addresses and "localhost".
class HostResolver {
 public:
  // ok with `out` filled, would_block while a lookup runs, error when the
  // name does not resolve.
  virtual hal::NetStatus resolve(std::string_view host_name, hal::IpAddress& out) = 0;

 protected:
  ~HostResolver() = default;
};

class LiteralResolver final : public HostResolver {
 public:
  hal::NetStatus resolve(std::string_view host_name, hal::IpAddress& out) override;
};

// Longest diagnostic written per recipient ("550 5.1.1 <text>"), for DSNs and logs.
inline constexpr std::size_t max_diagnostic_bytes = 120;

// What the smarthost answered, as the scheduler records it: the reply code
// (RFC 5321 §4.2), the enhanced status code (RFC 3463) and the text; or why
// there was no answer (code 0: refused, timed out, TLS failed), text only.
struct SmarthostReply {
  static constexpr std::size_t max_text_bytes = 104;  // longer texts are cut

  std::uint16_t code = 0;
  FixedString<9> enhanced;  // "4.3.0"; empty when the server gave none
  FixedString<max_text_bytes> text;

  static SmarthostReply of(std::uint16_t code, std::string_view enhanced, std::string_view text);
  static SmarthostReply of(const protocol::SmtpClientReply& reply) { return of(reply.code, reply.enhanced, reply.text); }
  static SmarthostReply local(std::string_view reason) { return of(0, {}, reason); }
  // "550 5.1.1 <text>", or the reason alone: the diagnostic of logs and reports.
  std::string_view describe(std::span<char, max_diagnostic_bytes> out) const;
};

// Why the refused recipients of an attempt were refused: each distinct reply
// once (a server mostly gives the same one), and which one each recipient got.
class RefusalTexts {
 public:
  static constexpr std::size_t capacity = PIGEON_SMARTHOST_REFUSAL_TEXTS;

  // Keeps `reply` as recipient r's refusal; false when it is new and every
  // slot is taken (nothing changes then).
  bool add(std::uint8_t recipient, const SmarthostReply& reply);
  const SmarthostReply& of(std::uint8_t recipient) const { return replies_[slot_of_[recipient]]; }
  void clear() { used_ = 0; }

 private:
  std::array<SmarthostReply, capacity> replies_{};
  std::size_t used_ = 0;
  std::array<std::uint8_t, PIGEON_MAX_RECIPIENTS> slot_of_{};
};

// The outcome of one attempt at one message, by spool recipient index.
struct DeliveryAttempt {
  MessageId id = 0;
  RecipientSet tried_mask;    // recipients offered to the smarthost this time (and not yet reported)
  RecipientSet relayed_mask;  // 250 to the end of data
  RecipientSet refused_mask;  // permanent failures; the rest of tried_mask is deferred
  RefusalTexts refusals;      // why each refused one was refused
  SmarthostReply last_temporary;  // why the deferred ones were deferred

  RecipientSet deferred_mask() const { return tried_mask & ~relayed_mask & ~refused_mask; }
};

// What the connection asks of the scheduler.
class SmarthostWork {
 public:
  // The next due message, now in flight; nullopt when nothing is due.
  virtual std::optional<OutboundMessage> take_message() = 0;
  virtual void attempt_finished(const DeliveryAttempt& attempt) = 0;
  // The attempt's refusal texts are full while it goes on: report (bounce)
  // its refused recipients now. False when the report could not be stored;
  // those recipients are then deferred.
  virtual bool report_refusals(const DeliveryAttempt& attempt) = 0;
  // The connection failed before it could carry a message (refused, bad
  // greeting, TLS or AUTH failure): the smarthost is unusable for now.
  virtual void connection_failed(const SmarthostReply& reason) = 0;

 protected:
  ~SmarthostWork() = default;
};

class SmarthostClient final : private protocol::SmtpClientEvents, private SessionHooks {
 public:
  bool active() const { return state_ != State::idle; }
  // Opens a connection. False when it could not even start (logged, reported
  // through connection_failed()).
  bool start(RelayServices& services, SmarthostTlsClient& tls, HostResolver& resolver, SmarthostWork& work,
             std::uint64_t now_ms);
  // Does what can be done without blocking; true when anything progressed.
  bool step(std::uint64_t now_ms);
  std::uint64_t deadline_ms() const;
  // Closes at once; a message in flight is deferred.
  void shut_down();

 private:
  enum class State : std::uint8_t { idle, resolving, connecting, open };

  // protocol::SmtpClientEvents
  void recipient_result(std::size_t index, const protocol::SmtpClientReply& reply) override;
  void transaction_finished() override;
  void session_failed(const protocol::SmtpClientReply& reply) override;
  std::optional<std::size_t> read_body(std::uint32_t offset, std::span<std::uint8_t> out) override;

  // SessionHooks
  void greet() override {}  // the server speaks first
  bool produce() override;
  bool say_goodbye(CloseReason) override { return false; }  // a failed connection just closes
  std::uint64_t idle_limit_ms() const override { return timeout_ms(); }
  void closed(CloseReason reason) override;

  bool step_resolving(std::uint64_t now_ms);
  bool step_connecting(std::uint64_t now_ms);
  void open_session(std::uint64_t now_ms);
  std::optional<std::string_view> recipient_address(std::size_t index,
                                                    std::span<char, protocol::max_path_bytes> out) override;

  void send_next_message();
  bool load_sender();
  std::uint8_t spool_recipient(std::size_t index) const;
  void note_refusal(std::uint8_t recipient, const SmarthostReply& reply);
  void log_result(std::uint8_t recipient, const SmarthostReply& answer);
  void end_attempt();
  void fail(std::string_view reason);
  std::string_view failure(CloseReason reason) const;
  void close();
  std::uint64_t timeout_ms() const;
  bool implicit_tls() const;

  RelayServices* services_ = nullptr;
  SmarthostTlsClient* tls_ = nullptr;
  HostResolver* resolver_ = nullptr;
  SmarthostWork* work_ = nullptr;
  State state_ = State::idle;
  hal::Endpoint endpoint_;
  hal::StreamId stream_ = hal::invalid_id;
  SessionTransport transport_;
  std::optional<protocol::SmtpClient> engine_;
  bool ready_once_ = false;  // the session reached its first transaction
  std::uint64_t last_activity_ms_ = 0;  // while resolving and connecting

  // The message in flight: its sender as read from the spool, and the spool
  // recipients offered (the engine's recipient i is the i-th of them). Their
  // addresses stay on flash until each RCPT is written.
  bool in_flight_ = false;
  std::array<char, protocol::max_path_bytes + 1> sender_{};  // NUL-terminated for the engine
  RecipientSet offered_mask_;
  DeliveryAttempt attempt_;
};

}  // namespace pigeon
