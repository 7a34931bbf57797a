#include "pop3_session.hpp"

namespace pigeon {
namespace {

using protocol::Pop3Decision;

constexpr std::uint64_t ms_per_s = 1000;

}  // namespace

void Pop3Session::start(RelayServices& services, TlsSessionPool& tls, Service service, hal::StreamId stream,
                        const hal::Endpoint& peer, std::uint64_t now_ms) {
  services_ = &services;
  service_ = service;
  user_.reset();
  login_.reset();
  maildrop_ = {};
  awaiting_sync_ = false;
  started_ms_ = now_ms;
  engine_.emplace(static_cast<protocol::Pop3ServerPolicy&>(*this), transport_.output(),
                  settings_for(service));
  const TransportSetup setup{services.net, services.log, tls, "pop3", is_implicit_tls(service),
                             services.config.handshake_timeout_s * ms_per_s};
  transport_.start(setup, *engine_, *this, stream, peer, now_ms);
}

protocol::Pop3ServerSettings Pop3Session::settings_for(Service service) {
  protocol::Pop3ServerSettings settings;
  settings.host_name = services_->config.host_name.view();
  settings.tls_active = is_implicit_tls(service);
  settings.stls_offered = !is_implicit_tls(service);
  settings.login_requires_tls = !services_->config.allows_plaintext_login(service);
  settings.max_messages = PIGEON_POP3_MAX_MESSAGES;
  settings.deletion_marks = deletion_marks_;
  return settings;
}

std::uint64_t Pop3Session::idle_limit_ms() const { return services_->config.pop3_timeout_s * ms_per_s; }

// A client that keeps the session busy is never idle; it holds a slot, maybe a
// TLS session, and the maildrop's lock (docs/security.md).
std::uint64_t Pop3Session::time_limit_ms() const {
  return started_ms_ + services_->config.session_time_limit_s * ms_per_s;
}

// A RETR/TOP or listing continues as the output drains.
bool Pop3Session::produce() {
  if (!engine_->streaming()) return false;
  const std::size_t before = transport_.output().size();
  engine_->pump();
  return transport_.output().size() != before;
}

// The autologout of RFC 1939 §3 after an idle timeout.
bool Pop3Session::say_goodbye(CloseReason reason) {
  switch (reason) {
    case CloseReason::idle_timeout:
    case CloseReason::opening_timeout: engine_->abort_session("Autologout; idle for too long"); break;
    case CloseReason::evicted: engine_->abort_session("[SYS/TEMP] Too many connections, try again later"); break;
    case CloseReason::time_limit: engine_->abort_session("Session too long, closing connection"); break;
    case CloseReason::tls_unavailable: engine_->abort_session("[SYS/TEMP] TLS not available now"); break;
    case CloseReason::shut_down: engine_->abort_session("[SYS/TEMP] Service shutting down"); break;
    default: return false;
  }
  return true;
}

// The failed login's delay is over. The same words for an unknown user and a
// wrong password.
void Pop3Session::timer_expired() {
  if (login_.exhausted(services_->config.login.failures_per_connection)) {
    return engine_->abort_session("[AUTH] Too many failed logins, closing connection");
  }
  engine_->resume(Pop3Decision::rejected("AUTH", "Authentication failed"));
}

void Pop3Session::closed(CloseReason) {
  login_.cancel(services_->logins);
  // A session that ends without QUIT deletes nothing (RFC 1939 §6).
  if (user_) release();
  engine_.reset();
}

Pop3Decision Pop3Session::login(std::string_view authzid, std::string_view user,
                                std::string_view password) {
  login_.begin(services_->logins, *this, transport_.peer().address, authzid, user, password,
               services_->clock.monotonic_ms());
  return Pop3Decision::later();
}

void Pop3Session::login_checked(std::optional<UserIndex> user) {
  const std::optional<UserIndex> account = login_.settle(user, services_->log, "pop3", transport_.peer());
  if (!account) {
    const std::uint64_t now_ms = services_->clock.monotonic_ms();
    return transport_.set_timer(login_.failure_reply_ms(services_->config.auth_failure_delay_ms, now_ms));
  }
  if (!services_->accounts.lock_maildrop(*account)) {
    return engine_->resume(Pop3Decision::rejected("IN-USE", "Maildrop already locked by another session"));
  }
  user_ = account;
  maildrop_ = services_->spool.view_mailbox(services_->accounts.name(*account), PIGEON_POP3_MAX_MESSAGES);
  engine_->resume(Pop3Decision::accepted());
}

// The view's messages stay in the spool while the session holds the maildrop's
// lock: only its own committed deletions take them out.
std::uint32_t Pop3Session::message_size_bytes(std::size_t index) {
  const std::optional<MaildropEntry> entry = services_->spool.view_entry(maildrop_, index);
  return entry ? entry->size_bytes : 0;
}

std::string_view Pop3Session::unique_id(std::size_t index) {
  const std::optional<MaildropEntry> entry = services_->spool.view_entry(maildrop_, index);
  const std::size_t length = entry ? format_message_id(entry->id, unique_id_) : 0;
  return {unique_id_.data(), length};
}

std::optional<std::size_t> Pop3Session::read_message(std::size_t index, std::uint32_t offset,
                                                     std::span<std::uint8_t> out) {
  const std::optional<MaildropEntry> entry = services_->spool.view_entry(maildrop_, index);
  const std::optional<std::size_t> read = entry ? services_->spool.read(entry->id, offset, out) : std::nullopt;
  if (!read) {
    services_->log.write(hal::LogLevel::error, "pop3: message %u unreadable at offset %u: flash read failed",
                         static_cast<unsigned>(entry ? entry->id : 0), static_cast<unsigned>(offset));
  }
  return read;
}

Pop3Decision Pop3Session::commit_deletions(const protocol::DeletionMarks& deleted) {
  const std::string_view mailbox = services_->accounts.name(*user_);
  // Newest first: a deleted message that leaves the index does not move the
  // view's older ones.
  for (std::size_t index = maildrop_.size(); index-- > 0;) {
    if (!deleted[index]) continue;
    const std::optional<MaildropEntry> entry = services_->spool.view_entry(maildrop_, index);
    if (!entry || services_->spool.mark_deleted(entry->id, mailbox) != SpoolStatus::ok) {
      return Pop3Decision::rejected("SYS/TEMP", "Could not remove messages");
    }
  }
  if (deleted.none()) return Pop3Decision::accepted();
  awaiting_sync_ = true;
  return Pop3Decision::later();
}

void Pop3Session::sync_finished(bool durable) {
  awaiting_sync_ = false;
  // The peer may have reset the connection while the commit waited for the
  // sync: the commit is durable all the same, and nobody is left to tell.
  if (!active()) return;
  engine_->resume(durable ? Pop3Decision::accepted()
                          : Pop3Decision::rejected("SYS/TEMP", "Could not remove messages"));
}

void Pop3Session::release() {
  if (user_) services_->accounts.unlock_maildrop(*user_);
  user_.reset();
}

}  // namespace pigeon
