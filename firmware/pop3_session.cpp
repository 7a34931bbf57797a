#include "pop3_session.hpp"

namespace pigeon {
namespace {

using protocol::Pop3Decision;

constexpr std::uint64_t ms_per_s = 1000;

}  // namespace

void Pop3Session::start(RelayServices& services, Service service, hal::StreamId stream,
                        const hal::Endpoint& peer, std::uint64_t now_ms) {
  services_ = &services;
  service_ = service;
  connection_.open(services.net, stream, peer);
  engine_.emplace(static_cast<protocol::Pop3ServerPolicy&>(*this), connection_.output(), services.base64, settings_for(service));
  last_activity_ms_ = now_ms;
  user_.reset();
  maildrop_count_ = 0;
  awaiting_sync_ = false;
  reply_delayed_ = false;
  if (is_implicit_tls(service)) {
    // As in SMTP: no plaintext words for a client that speaks TLS from its first byte.
    if (!connection_.start_tls(services.tls)) {
      services.log.write(hal::LogLevel::warning, "pop3: no TLS session free, closing");
      finish();
    }
  } else {
    engine_->start();
  }
}

protocol::Pop3ServerSettings Pop3Session::settings_for(Service service) const {
  protocol::Pop3ServerSettings settings;
  settings.host_name = services_->config.host_name.view();
  settings.tls_active = is_implicit_tls(service);
  settings.stls_offered = !is_implicit_tls(service);
  settings.login_requires_tls = !services_->config.allows_plaintext_login(service);
  settings.max_messages = PIGEON_POP3_MAX_MESSAGES;
  return settings;
}

bool Pop3Session::step(std::uint64_t now_ms) {
  if (!active()) return false;
  bool progressed = connection_.pump(!engine_->awaiting_tls());
  if (connection_.take_handshake_done()) {
    if (is_implicit_tls(service_)) {
      engine_->start();
    } else {
      engine_->tls_started();
    }
  }
  if (reply_delayed_ && now_ms >= delayed_reply_at_ms_) {
    reply_delayed_ = false;
    engine_->resume(Pop3Decision::rejected("AUTH", "Authentication failed"));
  }
  if (engine_->streaming()) engine_->pump();
  progressed |= feed_engine();
  if (engine_->awaiting_tls() && connection_.output_drained() && !connection_.handshaking() &&
      !connection_.tls_active()) {
    // Commands pipelined behind STLS are dropped here, unread (RFC 2595 §4).
    if (!connection_.start_tls(services_->tls)) engine_->abort_session("[SYS/TEMP] TLS not available now");
    progressed = true;
  }
  progressed |= connection_.pump(!engine_->awaiting_tls());
  if (progressed) last_activity_ms_ = now_ms;

  if (connection_.peer_gone() || (engine_->finished() && connection_.output_drained())) {
    finish();
    return true;
  }
  if (!awaiting_sync_ && now_ms - last_activity_ms_ > idle_limit_ms()) {
    time_out(now_ms);
    return true;  // step again at once: the session may be finished already
  }
  return progressed;
}

std::uint64_t Pop3Session::idle_limit_ms() const { return services_->config.pop3_timeout_s * ms_per_s; }

// The autologout of RFC 1939 §3, and one more idle period to read its -ERR. A
// client that does not read even that loses the slot anyway, as in SMTP.
void Pop3Session::time_out(std::uint64_t now_ms) {
  if (engine_->finished()) {
    services_->log.write(hal::LogLevel::info, "pop3: closing, client does not read its replies");
    finish();
    return;
  }
  services_->log.write(hal::LogLevel::info, "pop3: autologout after idle timeout");
  engine_->abort_session("Autologout; idle for too long");
  connection_.pump();
  last_activity_ms_ = now_ms;
}

bool Pop3Session::feed_engine() {
  bool progressed = false;
  for (;;) {
    if (engine_->streaming()) {
      const std::size_t before = connection_.output().size();
      engine_->pump();
      if (connection_.output().size() == before) break;
      progressed = true;
      connection_.pump();
      continue;
    }
    if (connection_.received().empty() || engine_->awaiting_tls() || engine_->finished()) break;
    const std::size_t consumed = engine_->feed(connection_.received());
    if (consumed == 0) break;
    connection_.consume(consumed);
    progressed = true;
  }
  return progressed;
}

void Pop3Session::finish() {
  // A session that ends without QUIT deletes nothing (RFC 1939 §6).
  if (user_) release();
  connection_.close();
  engine_.reset();
}

void Pop3Session::shut_down() {
  if (!active()) return;
  engine_->abort_session("[SYS/TEMP] Service shutting down");
  connection_.pump();
  finish();
}

std::uint64_t Pop3Session::deadline_ms() const {
  if (!active()) return UINT64_MAX;
  if (reply_delayed_) return delayed_reply_at_ms_;
  return last_activity_ms_ + idle_limit_ms() + 1;
}

Pop3Decision Pop3Session::login(std::string_view authzid, std::string_view user,
                                std::string_view password) {
  const bool own_identity = authzid.empty() || authzid == user;
  const auto account = own_identity ? services_->accounts.verify(user, password) : std::nullopt;
  if (!account) {
    services_->log.write(hal::LogLevel::warning, "pop3: login failed for %.*s",
                         static_cast<int>(user.size()), user.data());
    reply_delayed_ = true;
    delayed_reply_at_ms_ = services_->clock.monotonic_ms() + services_->config.auth_failure_delay_ms;
    return Pop3Decision::later();
  }
  if (!services_->accounts.lock_maildrop(*account)) {
    return Pop3Decision::rejected("IN-USE", "Maildrop already locked by another session");
  }
  user_ = account;
  maildrop_count_ = services_->spool.list_mailbox(services_->accounts.name(*account), maildrop_);
  return Pop3Decision::accepted();
}

std::uint32_t Pop3Session::message_size_bytes(std::size_t index) {
  return maildrop_[index].size_bytes;
}

std::string_view Pop3Session::unique_id(std::size_t index) {
  const std::size_t length = format_message_id(maildrop_[index].id, unique_id_);
  return {unique_id_.data(), length};
}

std::size_t Pop3Session::read_message(std::size_t index, std::uint32_t offset,
                                      std::span<std::uint8_t> out) {
  return services_->spool.read(maildrop_[index].id, offset, out);
}

Pop3Decision Pop3Session::commit_deletions(const protocol::DeletionMarks& deleted) {
  const std::string_view mailbox = services_->accounts.name(*user_);
  for (std::size_t index = 0; index < maildrop_count_; ++index) {
    if (deleted[index] && services_->spool.mark_deleted(maildrop_[index].id, mailbox) != SpoolStatus::ok) {
      return Pop3Decision::rejected("SYS/TEMP", "Could not remove messages");
    }
  }
  if (deleted.none()) return Pop3Decision::accepted();
  awaiting_sync_ = true;
  return Pop3Decision::later();
}

void Pop3Session::sync_finished(bool durable) {
  awaiting_sync_ = false;
  engine_->resume(durable ? Pop3Decision::accepted()
                          : Pop3Decision::rejected("SYS/TEMP", "Could not remove messages"));
}

void Pop3Session::release() {
  if (user_) services_->accounts.unlock_maildrop(*user_);
  user_.reset();
}

}  // namespace pigeon
