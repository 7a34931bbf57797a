// One IMAP client: the session transport, the sans-I/O engine, and the mail
// store it sees (docs/imap.md): INBOX is the user's mailbox in the spool, as
// POP3 sees it, and Sent, Drafts, Trash and Junk (RFC 6154) the messages the
// user wrote into them (the spool's folders), each through a LiveMailboxView
// of the spool's index. A message's UID is its spool message id, which the
// spool never gives out twice. Flags are the spool's mailbox state (docs/spool-format.md §3.7),
// synced before STORE's tagged OK; the session keeps a byte per message shown,
// to answer FETCH FLAGS and to find what other sessions changed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "protocol/imap_server.hpp"
#include "relay_services.hpp"
#include "session_login.hpp"
#include "session_transport.hpp"

namespace pigeon {

class ImapSession final : private protocol::ImapServerPolicy, private SessionHooks, private LoginWaiter {
 public:
  bool active() const { return transport_.active(); }
  void start(RelayServices& services, TlsSessionPool& tls, Service service, hal::StreamId stream,
             const hal::Endpoint& peer, std::uint64_t now_ms);
  SessionTransport& transport() { return transport_; }

 private:
  // ImapServerPolicy
  protocol::ImapDecision login(std::string_view authzid, std::string_view user, std::string_view password) override;
  bool reserve_tls() override { return transport_.reserve_tls(); }
  std::size_t mailbox_count() override;
  protocol::ImapMailbox mailbox(std::size_t index) override;
  protocol::ImapMailboxStatus status(std::size_t mailbox) override;
  protocol::ImapFlags permanent_flags() override;
  void select(std::size_t mailbox) override;
  void unselect() override;
  std::uint32_t message_count() override { return static_cast<std::uint32_t>(view_.size()); }
  std::uint32_t uid(std::uint32_t index) override { return shown(index).id; }
  protocol::ImapFlags flags(std::uint32_t index) override { return flags_[index]; }
  void set_flags(std::uint32_t index, protocol::ImapFlags flags) override;
  std::uint32_t size_bytes(std::uint32_t index) override { return shown(index).size_bytes; }
  std::uint32_t arrived_s(std::uint32_t index) override { return shown(index).arrived_s; }
  std::optional<std::size_t> read_message(std::uint32_t index, std::uint32_t offset,
                                          std::span<std::uint8_t> out) override;
  protocol::ImapDecision expunge(std::uint32_t index) override;
  protocol::ImapDecision commit() override;
  protocol::ImapDecision append_begin(std::size_t mailbox, std::uint32_t size_bytes,
                                     protocol::ImapFlags flags) override;
  bool append_data(std::span<const std::uint8_t> bytes) override;
  protocol::ImapDecision append_end(bool keep) override;
  std::uint32_t appended_uid() override { return appended_uid_; }
  // COPY and MOVE write each copy as a new message of the destination folder
  // (docs/imap.md): its UID is a new spool id.
  protocol::ImapDecision copy_begin(std::size_t mailbox, bool move) override;
  protocol::ImapDecision copy_message(std::uint32_t index) override;
  std::uint32_t copied_uid() override { return copy_.last; }
  protocol::ImapDecision copy_commit() override;
  void copy_discard() override;
  void refresh() override;
  std::optional<std::uint32_t> take_vanished() override;
  std::optional<std::uint32_t> take_flag_change() override;
  bool expunged_elsewhere(std::uint32_t index) override { return shown(index).vanished; }
  void release() override;

  // SessionHooks
  void greet() override { engine_->start(); }
  bool produce() override;
  bool working() const override;
  bool say_goodbye(CloseReason reason) override;
  void timer_expired() override;
  std::uint64_t idle_limit_ms() const override;
  std::uint64_t time_limit_ms() const override;
  bool awaiting_sync() const override { return awaiting_sync_; }
  void sync_finished(bool durable) override;
  bool keeps_slot() const override { return user_.has_value() || awaiting_sync_ || writer_.has_value(); }
  void closed(CloseReason reason) override;

  // LoginWaiter
  void login_checked(std::optional<UserIndex> user) override;

  protocol::ImapServerSettings settings_for(Service service) const;
  std::string_view mailbox_name() const { return services_->accounts.name(*user_); }
  void release_maildrop();
  using OwnAddress = std::array<char, max_user_name_bytes + max_domain_bytes + 1>;
  SpoolRecipient the_user(OwnAddress& address) const;
  std::string_view failed_commit_text() const;
  // POP3's lock, which an expunge (and a MOVE) holds until its removals are durable.
  protocol::ImapDecision hold_maildrop();
  SpoolStatus write_copy(const MaildropEntry& source, protocol::ImapFlags flags, SpoolWriter& writer);
  void drop_appended();
  // The view's message at `index`; a message that is gone or unreadable shows as id 0.
  MaildropEntry shown(std::uint32_t index);
  // The message at `index` left the view: the flags of later ones move down.
  void forget_flags(std::size_t index);
  // The flags the spool keeps for the message at `index` of the view.
  protocol::ImapFlags stored_flags(std::uint32_t index);
  // Reads the stored flags of the view's messages from `index` on.
  void load_flags(std::size_t index);

  RelayServices* services_ = nullptr;
  SessionTransport transport_;
  std::optional<protocol::ImapServer> engine_;
  std::uint64_t started_ms_ = 0;  // when the client connected

  SessionLogin login_;
  std::optional<UserIndex> user_;
  bool mailbox_selected_ = false;
  // The selected mailbox, and the flags of its messages as its client
  // was last told.
  LiveMailboxView view_;
  std::array<protocol::ImapFlags, PIGEON_IMAP_MAX_MESSAGES> flags_{};
  // Where the search for flags another session changed goes on (none when
  // past the view's end).
  std::size_t flag_scan_ = SIZE_MAX;
  // Flag changes programmed since the last commit, and whether one failed.
  bool flags_written_ = false;
  bool flags_failed_ = false;
  // An expunge holds POP3's maildrop lock until its deletions are durable
  // (the user may have logged out meanwhile).
  std::optional<UserIndex> maildrop_holder_;
  // An APPEND being written to the spool, and the UID the last one got.
  std::optional<SpoolWriter> writer_;
  std::uint32_t appended_uid_ = 0;
  // What the loop's sync makes durable for this session.
  enum class Commit : std::uint8_t { expunge, flags, append, copy };
  // The copies of a COPY or MOVE transaction: new messages with ids from
  // `first` to `last`, each with the envelope sender `tag` (unique: made of
  // an id the spool never gives out again), which tells them from what
  // other sessions wrote meanwhile when a refusal drops them.
  struct CopyTransaction {
    std::uint8_t folder = 0;
    bool move = false;
    MessageId first = 0;
    MessageId last = 0;
    std::array<char, 24> tag{};
    std::size_t tag_bytes = 0;
    std::string_view sender() const { return {tag.data(), tag_bytes}; }
  };
  CopyTransaction copy_;
  Commit commit_ = Commit::expunge;
  bool awaiting_sync_ = false;
};

}  // namespace pigeon
