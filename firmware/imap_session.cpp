#include "imap_session.hpp"

#include <algorithm>

#include "protocol/text_builder.hpp"

namespace pigeon {
namespace {

using protocol::ImapDecision;

constexpr std::uint64_t ms_per_s = 1000;

// INBOX first (RFC 9051 §5.1); the others so that clients that save sent mail
// or move to the trash find where to (RFC 6154).
constexpr std::array<protocol::ImapMailbox, 5> mailboxes{{{"INBOX", ""},
                                                          {"Sent", "\\Sent"},
                                                          {"Drafts", "\\Drafts"},
                                                          {"Trash", "\\Trash"},
                                                          {"Junk", "\\Junk"}}};

// Mailbox n is the spool's folder n (docs/spool-format.md §3.7).
static_assert(mailboxes.size() == MailboxState::folders);
std::uint8_t folder_number(std::size_t mailbox) { return static_cast<std::uint8_t>(mailbox); }

// The spool keeps IMAP's system flags as the bits of protocol::ImapFlag.
static_assert(protocol::imap_seen == MailboxState::seen && protocol::imap_answered == MailboxState::answered &&
              protocol::imap_flagged == MailboxState::flagged && protocol::imap_deleted == MailboxState::deleted &&
              protocol::imap_draft == MailboxState::draft);
constexpr protocol::ImapFlags system_flags = MailboxState::flag_bits;

}  // namespace

void ImapSession::start(RelayServices& services, TlsSessionPool& tls, Service service, hal::StreamId stream,
                        const hal::Endpoint& peer, std::uint64_t now_ms) {
  services_ = &services;
  started_ms_ = now_ms;
  unselect();
  user_.reset();
  login_.reset();
  mailbox_selected_ = false;
  maildrop_holder_.reset();
  writer_.reset();
  awaiting_sync_ = false;
  flags_written_ = false;
  flags_failed_ = false;
  engine_.emplace(static_cast<protocol::ImapServerPolicy&>(*this), transport_.output(), settings_for(service));
  const TransportSetup setup{services.net, services.log, tls, "imap", is_implicit_tls(service),
                             services.config.handshake_timeout_s * ms_per_s};
  transport_.start(setup, *engine_, *this, stream, peer, now_ms);
}

protocol::ImapServerSettings ImapSession::settings_for(Service service) const {
  protocol::ImapServerSettings settings;
  settings.host_name = services_->config.host_name.view();
  settings.tls_active = is_implicit_tls(service);
  settings.starttls_offered = !is_implicit_tls(service);
  settings.login_requires_tls = !services_->config.allows_plaintext_login(service);
  return settings;
}

// RFC 9051 §5.4: at least 30 minutes, the default (lower values are for tests).
std::uint64_t ImapSession::idle_limit_ms() const { return services_->config.imap_timeout_s * ms_per_s; }

// A FETCH or SEARCH continues as the output drains; an IDLE client hears of
// new and expunged mail as soon as the loop runs after it happened. A SEARCH
// that yielded has had its turn in this round, output or not (working()).
bool ImapSession::produce() {
  const std::size_t before = transport_.output().size();
  if (view_.lost_track()) {
    services_->log.write(hal::LogLevel::warning, "imap: more than %u messages removed elsewhere; closing",
                         static_cast<unsigned>(PIGEON_IMAP_VANISHED));
    engine_->abort_session("[UNAVAILABLE] Too many messages removed elsewhere, select the mailbox again");
  } else if (engine_->streaming()) {
    engine_->pump();
  } else if (engine_->idling()) {
    engine_->store_changed();
  }
  return transport_.output().size() != before && !engine_->yielded();
}

// A client that has not logged in ends at session_time_limit_s however busy
// it keeps itself: a command dripped a byte at a time is never idle, so never
// evicted, and clients that did so from a few addresses held every slot. A
// logged-in session lives while its client speaks within imap_timeout_s (an
// IDLE lasts for hours).
std::uint64_t ImapSession::time_limit_ms() const {
  if (user_) return UINT64_MAX;
  return started_ms_ + services_->config.session_time_limit_s * ms_per_s;
}

bool ImapSession::working() const { return engine_ && engine_->yielded(); }

bool ImapSession::say_goodbye(CloseReason reason) {
  switch (reason) {
    case CloseReason::idle_timeout:
    case CloseReason::opening_timeout: engine_->abort_session("Autologout; idle for too long"); break;
    case CloseReason::evicted: engine_->abort_session("[UNAVAILABLE] Too many connections, try again later"); break;
    case CloseReason::time_limit: engine_->abort_session("Login took too long, closing connection"); break;
    case CloseReason::tls_unavailable: engine_->abort_session("[UNAVAILABLE] TLS not available now"); break;
    case CloseReason::shut_down: engine_->abort_session("[UNAVAILABLE] Service shutting down"); break;
    default: return false;
  }
  return true;
}

// The failed login's delay is over; the same words for an unknown user and a
// wrong password.
void ImapSession::timer_expired() {
  if (login_.exhausted(services_->config.login.failures_per_connection)) {
    return engine_->abort_session("Too many failed logins, closing connection");
  }
  engine_->resume(ImapDecision::rejected("AUTHENTICATIONFAILED", "Authentication failed"));
}

void ImapSession::closed(CloseReason) {
  login_.cancel(services_->logins);
  // A commit that waits for the sync lets go of the lock when it is done.
  if (!awaiting_sync_) release_maildrop();
  drop_appended();
  unselect();
  user_.reset();
  engine_.reset();
}

ImapDecision ImapSession::login(std::string_view authzid, std::string_view user, std::string_view password) {
  login_.begin(services_->logins, *this, transport_.peer().address, authzid, user, password,
               services_->clock.monotonic_ms());
  return ImapDecision::later();
}

void ImapSession::login_checked(std::optional<UserIndex> user) {
  const std::optional<UserIndex> account = login_.settle(user, services_->log, "imap", transport_.peer());
  if (!account) {
    const std::uint64_t now_ms = services_->clock.monotonic_ms();
    return transport_.set_timer(login_.failure_reply_ms(services_->config.auth_failure_delay_ms, now_ms));
  }
  user_ = account;
  engine_->resume(ImapDecision::accepted());
}

std::size_t ImapSession::mailbox_count() { return mailboxes.size(); }
protocol::ImapMailbox ImapSession::mailbox(std::size_t index) { return mailboxes[index]; }

protocol::ImapMailboxStatus ImapSession::status(std::size_t mailbox) {
  protocol::ImapMailboxStatus status;
  // The spool never gives an id out twice (docs/spool-format.md §2), and
  // keeps one UIDVALIDITY from its format on (§2.1).
  status.uid_validity = services_->spool.uid_validity();
  status.uid_next = services_->spool.next_message_id();
  MailboxView all = services_->spool.view_mailbox(mailbox_name(), SIZE_MAX, folder_number(mailbox));
  status.messages = static_cast<std::uint32_t>(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::optional<MaildropEntry> entry = services_->spool.view_entry(all, i);
    if (!entry) continue;
    status.size_bytes += entry->size_bytes;
    const MailboxState state = services_->spool.mailbox_state(entry->id, mailbox_name()).value_or(MailboxState{});
    if ((state.flags & protocol::imap_seen) == 0) ++status.unseen;
    if ((state.flags & protocol::imap_deleted) != 0) ++status.deleted;
  }
  return status;
}

protocol::ImapFlags ImapSession::permanent_flags() { return system_flags; }

void ImapSession::select(std::size_t mailbox) {
  unselect();
  services_->spool.watch(view_, mailbox_name(), flags_.size(), folder_number(mailbox));
  mailbox_selected_ = true;
  load_flags(0);
}

void ImapSession::load_flags(std::size_t index) {
  for (; index < view_.size(); ++index) flags_[index] = stored_flags(static_cast<std::uint32_t>(index));
}

// A message that cannot be read, or whose EXPUNGE is still to be announced,
// keeps the flags its client knows.
protocol::ImapFlags ImapSession::stored_flags(std::uint32_t index) {
  const MaildropEntry entry = shown(index);
  if (entry.id == 0 || entry.vanished) return flags_[index];
  const std::optional<MailboxState> state = services_->spool.mailbox_state(entry.id, mailbox_name());
  return state ? state->flags : flags_[index];
}

// STORE, and the \Seen of a FETCH: a mailbox state record now, durable at the
// commit() that ends the command.
void ImapSession::set_flags(std::uint32_t index, protocol::ImapFlags flags) {
  flags_[index] = flags;
  const MaildropEntry entry = shown(index);
  const bool stored = entry.id != 0 && !entry.vanished &&
                      services_->spool.set_mailbox_flags(entry.id, mailbox_name(),
                                                         static_cast<std::uint8_t>(flags & system_flags),
                                                         &view_) == SpoolStatus::ok;
  flags_written_ |= stored;
  flags_failed_ |= !stored;
}

void ImapSession::unselect() {
  if (services_ != nullptr) services_->spool.unwatch(view_);
  view_ = {};
  flag_scan_ = SIZE_MAX;
  mailbox_selected_ = false;
}

// New mail joins the view; what left the spool meanwhile (a POP3 session's
// deletions, another IMAP session's expunge) the spool has noted in it.
// Flags another session changed are found by comparing the view's stored
// flags with the client's, once the spool says there are some.
void ImapSession::refresh() {
  if (!mailbox_selected_) return;
  const std::size_t known = view_.size();
  services_->spool.extend_view(view_);
  load_flags(known);
  if (Spool::take_state_changes(view_)) flag_scan_ = 0;
}

std::optional<std::uint32_t> ImapSession::take_flag_change() {
  for (; flag_scan_ < view_.size(); ++flag_scan_) {
    const protocol::ImapFlags stored = stored_flags(static_cast<std::uint32_t>(flag_scan_));
    if (stored == flags_[flag_scan_]) continue;
    flags_[flag_scan_] = stored;
    return static_cast<std::uint32_t>(flag_scan_++);
  }
  return std::nullopt;
}

std::optional<std::uint32_t> ImapSession::take_vanished() {
  const std::optional<std::size_t> gone = services_->spool.take_vanished(view_);
  if (!gone) return std::nullopt;
  forget_flags(*gone);
  return static_cast<std::uint32_t>(*gone);
}

// The place at `index` has just left the view: the later messages' flags move
// down one. Only the places shown are moved, so that a host session's table
// (a byte for each message the spool holds) is touched as far as its mailbox goes.
void ImapSession::forget_flags(std::size_t index) {
  const std::size_t shown_before = view_.size() + 1;
  PIGEON_ASSERT(index < shown_before && shown_before <= flags_.size());
  if (flag_scan_ != SIZE_MAX && flag_scan_ > index) --flag_scan_;
  std::copy(flags_.begin() + static_cast<std::ptrdiff_t>(index + 1),
            flags_.begin() + static_cast<std::ptrdiff_t>(shown_before),
            flags_.begin() + static_cast<std::ptrdiff_t>(index));
  flags_[shown_before - 1] = 0;
}

MaildropEntry ImapSession::shown(std::uint32_t index) {
  return services_->spool.view_entry(view_, index).value_or(MaildropEntry{});
}

std::optional<std::size_t> ImapSession::read_message(std::uint32_t index, std::uint32_t offset,
                                                     std::span<std::uint8_t> out) {
  const MaildropEntry entry = shown(index);
  const std::optional<std::size_t> read =
      entry.id == 0 || entry.vanished ? std::nullopt : services_->spool.read(entry.id, offset, out);
  if (!read) {
    services_->log.write(hal::LogLevel::error, "imap: message %u unreadable at offset %u: %s",
                         static_cast<unsigned>(entry.id), static_cast<unsigned>(offset),
                         entry.vanished ? "removed by another session" : "flash read failed");
  }
  return read;
}

// An expunge is POP3's deletion. POP3 locks the maildrop for its whole session
// and works from the list it took at login: while it holds the lock, IMAP
// expunges nothing (docs/imap.md).
ImapDecision ImapSession::expunge(std::uint32_t index) {
  if (const ImapDecision held = hold_maildrop(); held.kind != ImapDecision::Kind::accept) return held;
  if (services_->spool.remove_from_view(view_, index) != SpoolStatus::ok) {
    return ImapDecision::rejected("UNAVAILABLE", "Could not remove a message, try again later");
  }
  forget_flags(index);
  return ImapDecision::accepted();
}

// The deletions and flag changes are durable after the loop's sync; the
// tagged OK waits for it.
ImapDecision ImapSession::commit() {
  if (!maildrop_holder_ && !flags_written_) {
    if (!std::exchange(flags_failed_, false)) return ImapDecision::accepted();
    return ImapDecision::rejected("UNAVAILABLE", "Could not keep the flags, try again later");
  }
  commit_ = maildrop_holder_ ? Commit::expunge : Commit::flags;
  flags_written_ = false;
  awaiting_sync_ = true;
  return ImapDecision::later();
}

void ImapSession::sync_finished(bool durable) {
  awaiting_sync_ = false;
  // A MOVE whose copies are durable keeps the lock for its removals, unless
  // its client has gone.
  const bool moving = commit_ == Commit::copy && copy_.move && durable && active();
  if (!moving) release_maildrop();
  // The peer may have gone while the commit waited: it is durable all the same.
  if (!active()) return;
  const bool flags_failed = std::exchange(flags_failed_, false);
  if (durable && !flags_failed) return engine_->resume(ImapDecision::accepted());
  engine_->resume(ImapDecision::rejected("UNAVAILABLE", durable ? "Could not keep the flags, try again later"
                                                                : failed_commit_text()));
}

std::string_view ImapSession::failed_commit_text() const {
  switch (commit_) {
    case Commit::append: return "Could not store the message, try again later";
    case Commit::expunge: return "Could not remove messages, try again later";
    case Commit::copy: return "Could not store the copies, try again later";
    case Commit::flags: break;
  }
  return "Could not keep the flags, try again later";
}

// APPEND writes a message into the spool as a delivery to the user's own
// mailbox would (sender <>, the user as its one recipient), with its folder
// and flags in the begin record, so that no power cut shows it anywhere else.
ImapDecision ImapSession::append_begin(std::size_t mailbox, std::uint32_t size_bytes, protocol::ImapFlags flags) {
  if (size_bytes > services_->config.max_message_bytes || size_bytes > services_->spool.writer_limit_bytes()) {
    return ImapDecision::rejected("TOOBIG", "Message too big");
  }
  OwnAddress address{};
  const SpoolRecipient recipient = the_user(address);
  const SpoolEnvelope envelope{{}, {&recipient, 1}, false, spool_time_s(services_->clock)};
  SpoolWriter writer;
  const MailboxState state{static_cast<std::uint8_t>(flags & system_flags), folder_number(mailbox)};
  if (services_->spool.open_message(envelope, writer, state) != SpoolStatus::ok) {
    return ImapDecision::rejected("UNAVAILABLE", "No room for the message now, try again later");
  }
  writer_ = writer;
  return ImapDecision::accepted();
}

// A copy is a new message of the user's in the destination folder, with the
// source's bytes, arrival time (INTERNALDATE) and flags, committed at once
// and durable at copy_commit(). A MOVE holds POP3's lock from here until its
// removals are durable, as EXPUNGE does.
ImapDecision ImapSession::copy_begin(std::size_t mailbox, bool move) {
  if (move) {
    if (const ImapDecision held = hold_maildrop(); held.kind != ImapDecision::Kind::accept) return held;
  }
  copy_ = CopyTransaction{};
  copy_.folder = folder_number(mailbox);
  copy_.move = move;
  std::array<char, 8> id{};
  const std::size_t id_bytes = format_message_id(services_->spool.next_message_id(), id);
  copy_.tag_bytes = protocol::TextBuilder(copy_.tag).text("imap-copy-").text({id.data(), id_bytes}).view().size();
  return ImapDecision::accepted();
}

ImapDecision ImapSession::copy_message(std::uint32_t index) {
  const MaildropEntry source = shown(index);
  SpoolWriter writer;
  const SpoolStatus status = source.id == 0 || source.vanished
                                 ? SpoolStatus::not_found
                                 : write_copy(source, flags_[index], writer);
  if (status == SpoolStatus::full || status == SpoolStatus::too_many || status == SpoolStatus::too_big) {
    return ImapDecision::rejected("OVERQUOTA", "No room for the copies now");
  }
  if (status != SpoolStatus::ok) return ImapDecision::rejected("UNAVAILABLE", "Could not copy a message");
  if (copy_.first == 0) copy_.first = writer.message_id();
  copy_.last = writer.message_id();
  return ImapDecision::accepted();
}

SpoolStatus ImapSession::write_copy(const MaildropEntry& source, protocol::ImapFlags flags, SpoolWriter& writer) {
  OwnAddress address{};
  const SpoolRecipient recipient = the_user(address);
  const SpoolEnvelope envelope{copy_.sender(), {&recipient, 1}, false, source.arrived_s};
  const MailboxState state{static_cast<std::uint8_t>(flags & system_flags), copy_.folder};
  if (const SpoolStatus status = services_->spool.open_message(envelope, writer, state); status != SpoolStatus::ok) {
    return status;
  }
  std::array<std::uint8_t, 256> piece{};
  for (std::uint32_t offset = 0; offset < source.size_bytes;) {
    const std::optional<std::size_t> read = services_->spool.read(source.id, offset, piece);
    const SpoolStatus status = read && *read > 0 ? services_->spool.append(writer, std::span(piece).first(*read))
                                                 : SpoolStatus::flash_error;
    if (status != SpoolStatus::ok) {
      services_->spool.discard(writer);
      return status;
    }
    offset += static_cast<std::uint32_t>(*read);
  }
  return services_->spool.commit(writer);
}

// The copies are durable after the loop's sync; the tagged OK (or a MOVE's
// removals) wait for it.
ImapDecision ImapSession::copy_commit() {
  commit_ = Commit::copy;
  awaiting_sync_ = true;
  return ImapDecision::later();
}

// A copy was refused: the ones made before it go too (RFC 9051 §6.4.7, no
// partial copy), found by their envelope sender among the ids they got.
void ImapSession::copy_discard() {
  std::array<char, sizeof(copy_.tag)> sender{};
  for (MessageId id = copy_.first; id != 0 && id <= copy_.last; ++id) {
    if (services_->spool.read_sender(id, sender) == copy_.sender()) services_->spool.mark_deleted(id, mailbox_name());
  }
  copy_ = CopyTransaction{};
  release_maildrop();
}

bool ImapSession::append_data(std::span<const std::uint8_t> bytes) {
  return writer_ && services_->spool.append(*writer_, bytes) == SpoolStatus::ok;
}

// The message is committed now and durable after the loop's sync, which the
// tagged OK waits for.
ImapDecision ImapSession::append_end(bool keep) {
  if (!writer_ || !keep) {
    drop_appended();
    return ImapDecision::rejected("UNAVAILABLE", "Message not stored");
  }
  const SpoolStatus status = services_->spool.commit(*writer_);
  appended_uid_ = writer_->message_id();
  if (status != SpoolStatus::ok) {
    drop_appended();
    return ImapDecision::rejected("UNAVAILABLE", "Could not store the message, try again later");
  }
  writer_.reset();
  commit_ = Commit::append;
  awaiting_sync_ = true;
  return ImapDecision::later();
}

// The user as the one recipient of what they write themselves (APPEND, a
// copy): user@host, delivered to their mailbox.
SpoolRecipient ImapSession::the_user(OwnAddress& address) const {
  return {protocol::TextBuilder(address).text(mailbox_name()).character('@').text(services_->config.host_name.view()).view(),
          mailbox_name()};
}

void ImapSession::drop_appended() {
  if (writer_) services_->spool.discard(*writer_);
  writer_.reset();
}

ImapDecision ImapSession::hold_maildrop() {
  if (maildrop_holder_) return ImapDecision::accepted();
  if (!services_->accounts.lock_maildrop(*user_)) {
    return ImapDecision::rejected("INUSE", "A POP3 session holds the mailbox, try again later");
  }
  maildrop_holder_ = user_;
  return ImapDecision::accepted();
}

void ImapSession::release_maildrop() {
  if (maildrop_holder_) services_->accounts.unlock_maildrop(*maildrop_holder_);
  maildrop_holder_.reset();
}

void ImapSession::release() {
  if (!awaiting_sync_) release_maildrop();
  unselect();
  user_.reset();
}

}  // namespace pigeon
