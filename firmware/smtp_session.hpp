// One SMTP client: the session transport, the sans-I/O engine, and the relay's
// answers to the engine's questions (who may send, where recipients go, where
// the message is stored). Slots are static; a slot is reused for the next client.
#pragma once

#include <array>
#include <optional>

#include "fixed_string.hpp"
#include "protocol/mailbox_address.hpp"
#include "protocol/smtp_server.hpp"
#include "protocol/trace_header_counter.hpp"
#include "relay_services.hpp"
#include "session_login.hpp"
#include "session_transport.hpp"

namespace pigeon {

class SmtpSession final : private protocol::SmtpServerPolicy, private SessionHooks, private LoginWaiter {
 public:
  bool active() const { return transport_.active(); }
  // `tls` hands out the server's TLS sessions (the relay's, which evicts an
  // idle session when none is free).
  void start(RelayServices& services, TlsSessionPool& tls, Service service, hal::StreamId stream,
             const hal::Endpoint& peer, std::uint64_t now_ms);
  // The relay steps, syncs, times, shuts down and evicts the session through
  // its transport (docs/security.md for eviction).
  SessionTransport& transport() { return transport_; }
  // A submission over the host's local socket (docs/routers.md): plain SMTP
  // whose client may relay without AUTH, because the socket's file mode
  // already decided who may connect.
  void start_local(RelayServices& services, TlsSessionPool& tls, hal::StreamId stream, std::uint64_t now_ms);

 private:
  protocol::SmtpDecision mail_from(std::string_view reverse_path,
                                   const protocol::MailParameters& params) override;
  protocol::SmtpDecision rcpt_to(std::string_view forward_path) override;
  protocol::SmtpDecision data_begin() override;
  bool data_chunk(std::span<const std::uint8_t> bytes) override;
  protocol::SmtpReply storage_failure() const override;
  protocol::SmtpDecision data_end() override;
  void data_abort() override;
  void transaction_reset() override;
  protocol::SmtpDecision authenticate(std::string_view authzid, std::string_view authcid,
                                      std::string_view password) override;
  bool reserve_tls() override { return transport_.reserve_tls(); }

  // SessionHooks
  void greet() override { engine_->start(); }
  bool say_goodbye(CloseReason reason) override;
  void timer_expired() override;
  std::uint64_t idle_limit_ms() const override;
  // A message is programmed: 250 waits for the sync that makes it durable.
  bool awaiting_sync() const override { return awaiting_sync_; }
  void sync_finished(bool durable) override;
  bool keeps_slot() const override { return engine_->authenticated() || in_data_ || awaiting_sync_; }
  std::uint64_t time_limit_ms() const override;
  bool data_time_limit_first() const;
  void closed(CloseReason reason) override;

  // LoginWaiter
  void login_checked(std::optional<UserIndex> user) override;

  protocol::SmtpServerSettings settings_for(Service service) const;
  bool may_relay() const;
  protocol::SmtpDecision add_recipient(std::string_view forward_path, UserIndex mailbox);
  bool write_received_header();
  std::string_view protocol_name() const;

  RelayServices* services_ = nullptr;
  Service service_ = Service::smtp;
  bool local_ = false;  // came in over the local socket
  SessionTransport transport_;
  std::optional<protocol::SmtpServer> engine_;

  // The transaction's envelope. Its recipients go to flash as each is
  // accepted (Spool::add_recipient), into a message opened at the first one,
  // so that the session's RAM does not grow with them; the first is kept for
  // the Received header of a message to one recipient.
  FixedString<protocol::max_path_bytes> sender_;
  bool body_8bit_ = false;
  static constexpr UserIndex relayed_recipient = SIZE_MAX;  // a recipient no local user takes
  std::size_t recipient_count_ = 0;
  FixedString<protocol::max_path_bytes> first_recipient_;
  // The open message failed while recipients went to flash: the ones accepted
  // so far are gone with it, so the transaction can only fail (451).
  bool envelope_lost_ = false;
  protocol::TraceHeaderCounter trace_headers_;
  std::optional<SpoolWriter> writer_;
  bool in_data_ = false;  // DATA began: its time limit runs and the slot is kept
  SpoolStatus storage_status_ = SpoolStatus::ok;  // of the message's failed append
  bool awaiting_sync_ = false;
  // The session's and its DATA phase's start, for their time limits.
  std::uint64_t started_ms_ = 0;
  std::uint64_t data_started_ms_ = 0;

  // A failed login is answered only after a delay (the transport's timer), to
  // slow down guessing.
  SessionLogin login_;
};

}  // namespace pigeon
