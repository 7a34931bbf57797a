#include "smtp_session.hpp"

#include <algorithm>

#include "ip_address.hpp"
#include "text.hpp"
#include "protocol/rfc5322.hpp"

namespace pigeon {
namespace {

using protocol::SmtpDecision;
using protocol::SmtpReply;

constexpr std::uint64_t ms_per_s = 1000;

// The configured host name must fit the engine's EHLO line (the output
// buffer's room for the engine's replies is checked in pigeon_limits.hpp).
static_assert(max_domain_bytes <= protocol::SmtpServer::max_host_name_bytes);
// A message that has passed more relays than this is looping (RFC 5321 §6.3).
constexpr std::size_t max_received_headers = 30;

// Splits "local@domain" at its last '@' (a quoted local part may contain '@').
bool split_address(std::string_view address, std::string_view& local, std::string_view& domain) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return false;
  local = address.substr(0, at);
  domain = address.substr(at + 1);
  return true;
}

// A full spool is temporary (reclaim frees space): 452 4.3.1 (RFC 3463). A
// message that reclaim aborted may be sent again at once.
SmtpReply storage_reply(SpoolStatus status) {
  switch (status) {
    case SpoolStatus::full:
    case SpoolStatus::too_many: return {452, "4.3.1", "Insufficient system storage"};
    case SpoolStatus::too_big: return {552, "5.3.4", "Message too big for the spool"};
    case SpoolStatus::aborted: return {451, "4.3.0", "Spool space needed, try again"};
    default: return {451, "4.3.0", "Local storage error"};
  }
}

SmtpDecision storage_rejection(SpoolStatus status) { return SmtpDecision::rejected(storage_reply(status)); }

// The largest Received header write_received_header() adds to a message: the
// spool's share for one message holds it besides what SIZE allows.
constexpr std::uint32_t received_header_bytes = 768;

}  // namespace

void SmtpSession::start(RelayServices& services, TlsSessionPool& tls, Service service, hal::StreamId stream,
                        const hal::Endpoint& peer, std::uint64_t now_ms) {
  services_ = &services;
  service_ = service;
  local_ = false;
  awaiting_sync_ = false;
  login_.reset();
  started_ms_ = now_ms;
  transaction_reset();
  engine_.emplace(static_cast<protocol::SmtpServerPolicy&>(*this), transport_.output(),
                  settings_for(service));
  const TransportSetup setup{services.net, services.log, tls, "smtp", is_implicit_tls(service),
                             services.config.handshake_timeout_s * ms_per_s};
  transport_.start(setup, *engine_, *this, stream, peer, now_ms);
}

void SmtpSession::start_local(RelayServices& services, TlsSessionPool& tls, hal::StreamId stream,
                              std::uint64_t now_ms) {
  hal::Endpoint local_client;
  local_client.local = true;
  start(services, tls, Service::smtp, stream, local_client, now_ms);
  local_ = true;
}

protocol::SmtpServerSettings SmtpSession::settings_for(Service service) const {
  const RelayConfig& config = services_->config;
  protocol::SmtpServerSettings settings;
  settings.host_name = config.host_name.view();
  // One message may take only its share of the spool (Spool::writer_limit_bytes).
  const std::uint32_t spool_share = services_->spool.writer_limit_bytes();
  settings.max_message_bytes =
      std::min(config.max_message_bytes, spool_share - std::min(spool_share, received_header_bytes));
  settings.max_recipients = static_cast<std::uint16_t>(config.max_recipients);
  settings.tls_active = is_implicit_tls(service);
  settings.starttls_offered = !is_implicit_tls(service);
  settings.auth_offered = true;
  settings.auth_requires_tls = !config.allows_plaintext_login(service);
  // Submission (RFC 6409 §4.3) takes mail from authenticated users only; port
  // 25 takes mail for local recipients from anyone.
  settings.auth_required = service != Service::smtp;
  return settings;
}

// RFC 5321 §4.5.3.2: inside DATA the client gets data_timeout_s, elsewhere
// command_timeout_s.
std::uint64_t SmtpSession::idle_limit_ms() const {
  return (in_data_ ? services_->config.data_timeout_s : services_->config.command_timeout_s) * ms_per_s;
}

// The session's time limit, or its DATA phase's while a message is open.
std::uint64_t SmtpSession::time_limit_ms() const {
  const RelayConfig& config = services_->config;
  const std::uint64_t session_end_ms = started_ms_ + config.session_time_limit_s * ms_per_s;
  if (!in_data_) return session_end_ms;
  return std::min(session_end_ms, data_started_ms_ + config.data_time_limit_s * ms_per_s);
}

bool SmtpSession::data_time_limit_first() const {
  return in_data_ && data_started_ms_ + services_->config.data_time_limit_s * ms_per_s <
                        started_ms_ + services_->config.session_time_limit_s * ms_per_s;
}

bool SmtpSession::say_goodbye(CloseReason reason) {
  switch (reason) {
    case CloseReason::idle_timeout:
    case CloseReason::opening_timeout: engine_->abort_session({421, "4.4.2", "Idle timeout, closing connection"}); break;
    case CloseReason::evicted: engine_->abort_session({421, "4.7.0", "Too many connections, try again later"}); break;
    case CloseReason::time_limit:
      engine_->abort_session({421, "4.4.2", data_time_limit_first() ? "DATA took too long, closing connection"
                                                                     : "Session too long, closing connection"});
      break;
    case CloseReason::tls_unavailable: engine_->abort_session({454, "4.7.0", "TLS not available now"}); break;
    case CloseReason::shut_down: engine_->abort_session({421, "4.3.2", "Service shutting down"}); break;
    default: return false;
  }
  return true;
}

// The failed login's delay is over. The same words for an unknown user and a
// wrong password (RFC 4954 §6: 535 5.7.8).
void SmtpSession::timer_expired() {
  if (login_.exhausted(services_->config.login.failures_per_connection)) {
    return engine_->abort_session({421, "4.7.0", "Too many failed logins, closing connection"});
  }
  engine_->resume(SmtpDecision::rejected({535, "5.7.8", "Authentication credentials invalid"}));
}

void SmtpSession::closed(CloseReason) {
  login_.cancel(services_->logins);
  if (writer_) data_abort();
  engine_.reset();
}

SmtpDecision SmtpSession::mail_from(std::string_view reverse_path,
                                    const protocol::MailParameters& params) {
  if (!sender_.assign(reverse_path)) return SmtpDecision::rejected({501, "5.1.7", "Sender address too long"});
  body_8bit_ = params.body_8bit;
  return SmtpDecision::accepted();
}

SmtpDecision SmtpSession::rcpt_to(std::string_view forward_path) {
  // RFC 5321 §4.5.1: the engine passes "<Postmaster>" without a domain as written.
  if (text::iequals(forward_path, "postmaster")) {
    const std::optional<UserIndex> postmaster = services_->accounts.postmaster();
    if (!postmaster) return SmtpDecision::rejected({550, "5.1.1", "No postmaster mailbox here"});
    return add_recipient(forward_path, *postmaster);
  }
  std::string_view local;
  std::string_view domain;
  if (!split_address(forward_path, local, domain)) {
    return SmtpDecision::rejected({501, "5.1.3", "Bad recipient address syntax"});
  }
  std::optional<UserIndex> mailbox = relayed_recipient;
  if (services_->config.is_local_domain(domain)) {
    mailbox = services_->accounts.find_mailbox(local);
    if (!mailbox) return SmtpDecision::rejected({550, "5.1.1", "No such user here"});
  } else if (!may_relay()) {
    // Never an open relay: only with a smarthost, and only for clients that
    // logged in or whose network the configuration names.
    return SmtpDecision::rejected({550, "5.7.1", "Relaying denied"});
  }
  return add_recipient(forward_path, *mailbox);
}

// The recipient is on flash before it gets its 250 (docs/spool-format.md §3.6).
SmtpDecision SmtpSession::add_recipient(std::string_view forward_path, UserIndex mailbox) {
  if (envelope_lost_) return storage_rejection(SpoolStatus::aborted);
  if (recipient_count_ == PIGEON_MAX_RECIPIENTS) return SmtpDecision::rejected({452, "4.5.3", "Too many recipients"});
  if (!writer_) {
    const SpoolEnvelope envelope{sender_.view(), {}, body_8bit_, spool_time_s(services_->clock)};
    SpoolWriter writer;
    const SpoolStatus status = services_->spool.open_streamed(envelope, writer);
    if (status != SpoolStatus::ok) return storage_rejection(status);
    writer_ = writer;
  }
  // An empty mailbox name: the spool owes the recipient to the smarthost.
  const SpoolRecipient recipient{forward_path, mailbox == relayed_recipient ? "" : services_->accounts.name(mailbox)};
  const SpoolStatus status = services_->spool.add_recipient(*writer_, recipient);
  if (status == SpoolStatus::full || status == SpoolStatus::too_many) return storage_rejection(status);
  if (status != SpoolStatus::ok) {
    // Aborted for its sector, or a failed program: the message is gone.
    data_abort();
    envelope_lost_ = true;
    return storage_rejection(status);
  }
  if (recipient_count_++ == 0) first_recipient_.assign(forward_path);
  return SmtpDecision::accepted();
}

bool SmtpSession::may_relay() const {
  const RelayConfig& config = services_->config;
  if (config.smarthost.host.empty()) return false;
  return local_ || engine_->authenticated() || config.is_relay_network(transport_.peer().address);
}

SmtpDecision SmtpSession::data_begin() {
  if (envelope_lost_ || !writer_) return storage_rejection(SpoolStatus::aborted);
  in_data_ = true;
  storage_status_ = SpoolStatus::ok;
  data_started_ms_ = services_->clock.monotonic_ms();
  if (!write_received_header()) {
    data_abort();
    return SmtpDecision::rejected({451, "4.3.0", "Local storage error"});
  }
  trace_headers_.reset();  // only what the client sends counts towards the hop limit
  return SmtpDecision::accepted();
}

bool SmtpSession::write_received_header() {
  std::array<char, 40> client_ip{};
  std::array<char, 16> id{};
  const auto id_length = format_message_id(writer_->message_id(), id);
  protocol::ReceivedTrace trace;
  trace.helo_name = engine_->client_name();
  trace.client_ip = format_ip_address(transport_.peer().address, client_ip);
  trace.host_name = services_->config.host_name.view();
  trace.protocol = protocol_name();
  trace.id = {id.data(), id_length};
  trace.recipient = recipient_count_ == 1 ? first_recipient_.view() : std::string_view{};
  trace.unix_time_s = services_->clock.unix_time_s();
  std::array<char, 768> header{};
  const std::size_t length = protocol::write_received_header(trace, header);
  return length != 0 &&
         data_chunk({reinterpret_cast<const std::uint8_t*>(header.data()), length});
}

// RFC 3848's names for the transfer: S for TLS, A for an authenticated client.
std::string_view SmtpSession::protocol_name() const {
  const bool tls = transport_.tls_active();
  const bool auth = engine_->authenticated();
  if (tls) return auth ? "ESMTPSA" : "ESMTPS";
  return auth ? "ESMTPA" : "ESMTP";
}

bool SmtpSession::data_chunk(std::span<const std::uint8_t> bytes) {
  trace_headers_.feed(bytes);
  if (!writer_) return false;
  storage_status_ = services_->spool.append(*writer_, bytes);
  if (storage_status_ == SpoolStatus::aborted) {
    services_->log.write(hal::LogLevel::warning, "smtp: message %u aborted: spool space needed",
                         static_cast<unsigned>(writer_->message_id()));
  }
  return storage_status_ == SpoolStatus::ok;
}

SmtpReply SmtpSession::storage_failure() const { return storage_reply(storage_status_); }

SmtpDecision SmtpSession::data_end() {
  if (trace_headers_.received_headers() > max_received_headers) {
    data_abort();
    return SmtpDecision::rejected({554, "5.4.6", "Too many Received headers: mail loop"});
  }
  const SpoolStatus status = services_->spool.commit(*writer_);
  writer_.reset();
  in_data_ = false;
  if (status != SpoolStatus::ok) return storage_rejection(status);
  awaiting_sync_ = true;
  return SmtpDecision::later();
}

void SmtpSession::sync_finished(bool durable) {
  awaiting_sync_ = false;
  // The peer may have reset the connection while the commit waited for the
  // sync: the commit is durable all the same, and nobody is left to tell.
  if (!active()) return;
  if (durable) {
    engine_->resume(SmtpDecision::accepted({250, "2.0.0", "OK: message stored"}));
  } else {
    engine_->resume(SmtpDecision::rejected({451, "4.3.0", "Local storage error, try again"}));
  }
}

void SmtpSession::data_abort() {
  if (writer_) services_->spool.discard(*writer_);
  writer_.reset();
  in_data_ = false;
}

void SmtpSession::transaction_reset() {
  data_abort();
  sender_.assign("");
  body_8bit_ = false;
  recipient_count_ = 0;
  first_recipient_.assign("");
  envelope_lost_ = false;
}

SmtpDecision SmtpSession::authenticate(std::string_view authzid, std::string_view authcid,
                                       std::string_view password) {
  login_.begin(services_->logins, *this, transport_.peer().address, authzid, authcid, password,
               services_->clock.monotonic_ms());
  return SmtpDecision::later();
}

void SmtpSession::login_checked(std::optional<UserIndex> user) {
  if (login_.settle(user, services_->log, "smtp", transport_.peer())) {
    return engine_->resume(SmtpDecision::accepted({235, "2.7.0", "Authentication successful"}));
  }
  const std::uint64_t now_ms = services_->clock.monotonic_ms();
  transport_.set_timer(login_.failure_reply_ms(services_->config.auth_failure_delay_ms, now_ms));
}

}  // namespace pigeon
