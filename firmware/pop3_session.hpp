// One POP3 client: the session transport, the sans-I/O engine, and the relay's answers
// to it (logins, the locked maildrop's view, message bytes, deletions).
#pragma once

#include <array>
#include <optional>

#include "protocol/pop3_server.hpp"
#include "relay_services.hpp"
#include "session_login.hpp"
#include "session_transport.hpp"

namespace pigeon {

class Pop3Session final : private protocol::Pop3ServerPolicy, private SessionHooks, private LoginWaiter {
 public:
  bool active() const { return transport_.active(); }
  // `tls` hands out the server's TLS sessions (the relay's, which evicts an
  // idle session when none is free).
  void start(RelayServices& services, TlsSessionPool& tls, Service service, hal::StreamId stream,
             const hal::Endpoint& peer, std::uint64_t now_ms);
  // The relay steps, syncs, times, shuts down and evicts the session through
  // its transport (docs/security.md for eviction).
  SessionTransport& transport() { return transport_; }

 private:
  protocol::Pop3Decision login(std::string_view authzid, std::string_view user,
                               std::string_view password) override;
  std::size_t message_count() override { return maildrop_.size(); }
  std::uint32_t message_size_bytes(std::size_t index) override;
  std::string_view unique_id(std::size_t index) override;
  std::optional<std::size_t> read_message(std::size_t index, std::uint32_t offset,
                                          std::span<std::uint8_t> out) override;
  protocol::Pop3Decision commit_deletions(const protocol::DeletionMarks& deleted) override;
  void release() override;
  bool reserve_tls() override { return transport_.reserve_tls(); }

  // SessionHooks
  void greet() override { engine_->start(); }
  bool produce() override;
  bool say_goodbye(CloseReason reason) override;
  void timer_expired() override;
  std::uint64_t idle_limit_ms() const override;
  std::uint64_t time_limit_ms() const override;
  // Deletions are durable after the loop's sync; +OK to QUIT waits for it.
  bool awaiting_sync() const override { return awaiting_sync_; }
  void sync_finished(bool durable) override;
  bool keeps_slot() const override { return user_.has_value() || awaiting_sync_; }
  void closed(CloseReason reason) override;

  // LoginWaiter
  void login_checked(std::optional<UserIndex> user) override;

  protocol::Pop3ServerSettings settings_for(Service service);

  RelayServices* services_ = nullptr;
  Service service_ = Service::pop3;
  SessionTransport transport_;
  std::optional<protocol::Pop3Server> engine_;

  SessionLogin login_;
  std::optional<UserIndex> user_;  // set while the maildrop is locked
  MailboxView maildrop_;  // fixed at login; the spool's index holds the messages
  // DELE's marks: a bit per message the session may show.
  std::array<protocol::DeletionMarks::Word, protocol::DeletionMarks::words_for(PIGEON_POP3_MAX_MESSAGES)>
      deletion_marks_{};
  std::array<char, 24> unique_id_{};
  bool awaiting_sync_ = false;
  std::uint64_t started_ms_ = 0;
};

}  // namespace pigeon
