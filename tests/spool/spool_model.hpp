// What the spool has promised, for power-loss and long-run tests: every message
// the tests tried to store, whether it was acknowledged (commit and sync
// returned ok), and which recipients' outcomes were acknowledged. check() holds a
// remounted spool to the promise of docs/architecture.md §5.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/spool/spool_fixture.hpp"

namespace pigeon::testing {

struct ModelRecipient {
  std::string address;
  std::string mailbox;  // empty: relayed
  bool operator==(const ModelRecipient&) const = default;
};

struct ModelMessage {
  std::string body;
  std::vector<ModelRecipient> recipients;
  bool acknowledged = false;
  std::set<std::uint8_t> done;       // recipients whose outcome was acknowledged
  std::set<std::uint8_t> attempted;  // ... or was being recorded: may be done or not
  std::uint32_t arrived_s = 0;
  std::uint16_t attempts_acknowledged = 0;  // temporary failures recorded and synced
  std::uint16_t attempts_recording = 0;     // ... or being recorded
  MailboxState begin_state;                 // every local recipient's until one is set
};

// IMAP's state of a message for one user (docs/spool-format.md §3.7): the
// last one set and synced, and the one being set when power was cut.
struct ModelMailboxState {
  MailboxState acknowledged;
  MailboxState recording;
};

// The attempt state record_attempt() writes for the n-th temporary failure.
inline std::uint32_t model_next_retry_s(const ModelMessage& message, std::uint16_t attempts) {
  return message.arrived_s + 60u * attempts;
}

class SpoolModel {
 public:
  // Stores a message through `spool` and records what was promised. Returns
  // the spool's status (ok only when commit and sync both succeeded).
  // `streamed`: the recipients go to flash one by one, as the SMTP session
  // writes them (Spool::open_streamed, add_recipient).
  // `begin_state`: the flags and folder written with the message (an IMAP
  // APPEND's; inline envelopes only).
  SpoolStatus store(Spool& spool, const std::vector<ModelRecipient>& recipients, std::string body,
                    bool streamed = false, MailboxState begin_state = {}) {
    std::vector<SpoolRecipient> views;
    for (const ModelRecipient& r : recipients) views.push_back({r.address, r.mailbox});
    SpoolWriter writer;
    const std::uint32_t arrived_s = next_arrival_s_++;
    SpoolStatus status = streamed ? spool.open_streamed({"sender@lan.example", {}, false, arrived_s}, writer)
                                  : spool.open_message({"sender@lan.example", views, false, arrived_s}, writer,
                                                       begin_state);
    if (status != SpoolStatus::ok) return status;
    for (std::size_t r = 0; streamed && r < views.size() && status == SpoolStatus::ok; ++r) {
      status = spool.add_recipient(writer, views[r]);
    }
    if (status != SpoolStatus::ok) {
      spool.discard(writer);
      return status;
    }
    ModelMessage& message = messages_[writer.message_id()];
    message.arrived_s = arrived_s;
    message.begin_state = begin_state;
    message.body = body;
    message.recipients = recipients;
    const std::string_view all = message.body;
    for (std::size_t at = 0; at < all.size() && status == SpoolStatus::ok; at += 900) {
      const std::string_view part = all.substr(at, 900);
      status = spool.append(writer, {reinterpret_cast<const std::uint8_t*>(part.data()), part.size()});
    }
    if (status != SpoolStatus::ok) {
      spool.discard(writer);
      return status;
    }
    status = spool.commit(writer);
    if (status == SpoolStatus::ok) status = spool.sync();
    message.acknowledged = status == SpoolStatus::ok;
    return status;
  }

  // Records outcomes for recipients of one message, then syncs (a POP3 QUIT or
  // one relay transaction).
  SpoolStatus finish(Spool& spool, MessageId id, const std::vector<std::uint8_t>& recipients,
                     RecipientOutcome remote_outcome = RecipientOutcome::relayed) {
    ModelMessage& message = messages_.at(id);
    for (std::uint8_t r : recipients) {
      const ModelRecipient& recipient = message.recipients[r];
      const bool tried_before = message.attempted.count(r) != 0;
      message.attempted.insert(r);
      const SpoolStatus status = recipient.mailbox.empty()
                                     ? spool.mark_recipient(id, r, remote_outcome)
                                     : spool.mark_deleted(id, recipient.mailbox);
      // An outcome recorded before a cut may have finished the message.
      if (status == SpoolStatus::not_found && tried_before) continue;
      if (status != SpoolStatus::ok) return status;
    }
    const SpoolStatus status = spool.sync();
    if (status == SpoolStatus::ok) message.done.insert(recipients.begin(), recipients.end());
    return status;
  }

  // The next temporary failure of the message's remote recipients, then a sync.
  SpoolStatus record_attempt(Spool& spool, MessageId id, const RecipientSet& mask) {
    ModelMessage& message = messages_.at(id);
    const auto attempts = static_cast<std::uint16_t>(message.attempts_acknowledged + 1);
    message.attempts_recording = attempts;
    SpoolStatus status = spool.record_attempt(
        id, mask, {attempts, model_next_retry_s(message, attempts), 451, "4.3.0", "Try again later"});
    if (status == SpoolStatus::ok) status = spool.sync();
    if (status == SpoolStatus::ok) message.attempts_acknowledged = attempts;
    return status;
  }

  // An IMAP STORE: the user's new flags of the message (its folder is the
  // one it was written into), then a sync before the tagged OK.
  SpoolStatus set_flags(Spool& spool, MessageId id, const std::string& mailbox, std::uint8_t flags) {
    const MailboxState state{flags, messages_.at(id).begin_state.folder};
    const auto known = states_.try_emplace({id, mailbox}, ModelMailboxState{messages_.at(id).begin_state,
                                                                            messages_.at(id).begin_state});
    ModelMailboxState& model = known.first->second;
    model.recording = state;
    SpoolStatus status = spool.set_mailbox_flags(id, mailbox, flags);
    if (status == SpoolStatus::ok) status = spool.sync();
    if (status == SpoolStatus::ok) model.acknowledged = state;
    return status;
  }

  // An outcome about to be recorded outside finish().
  void attempt(MessageId id, std::uint8_t recipient) { messages_.at(id).attempted.insert(recipient); }

  const std::map<MessageId, ModelMessage>& messages() const { return messages_; }

  // Acknowledged messages with a recipient still owed, oldest first.
  std::vector<MessageId> live() const {
    std::vector<MessageId> ids;
    for (const auto& [id, message] : messages_) {
      if (message.acknowledged && message.done.size() < message.recipients.size()) ids.push_back(id);
    }
    return ids;
  }

  // Every broken promise, as text; empty when the spool keeps them all.
  std::vector<std::string> check(Spool& spool) const {
    std::vector<std::string> problems;
    std::map<MessageId, std::set<std::uint8_t>> delivered;  // what the spool offers, per recipient
    collect_mailbox(spool, "alice", delivered, problems);
    collect_mailbox(spool, "bob", delivered, problems);
    collect_outbound(spool, delivered, problems);
    for (const auto& [id, message] : messages_) {
      const auto offered = delivered.find(id);
      for (std::uint8_t r = 0; r < message.recipients.size(); ++r) {
        const bool is_offered = offered != delivered.end() && offered->second.count(r) != 0;
        const bool owed = message.acknowledged && message.attempted.count(r) == 0;
        if (owed && !is_offered) problems.push_back("acknowledged message " + std::to_string(id) + " lost for recipient " + std::to_string(r));
        if (message.done.count(r) != 0 && is_offered) problems.push_back("finished message " + std::to_string(id) + " came back for recipient " + std::to_string(r));
      }
    }
    return problems;
  }

 private:
  void check_content(Spool& spool, MessageId id, std::vector<std::string>& problems) const {
    const auto message = messages_.find(id);
    if (message == messages_.end()) {
      problems.push_back("unknown message " + std::to_string(id) + " offered");
    } else if (read_message(spool, id) != message->second.body) {
      problems.push_back("message " + std::to_string(id) + " offered with wrong content");
    }
  }

  // Arrival is part of the envelope; the attempt state is the last one synced
  // or the one a cut interrupted.
  void check_relay_state(const OutboundMessage& outbound, std::vector<std::string>& problems) const {
    const auto found = messages_.find(outbound.id);
    if (found == messages_.end()) return;
    const ModelMessage& message = found->second;
    const std::string id = std::to_string(outbound.id);
    if (outbound.arrived_s != message.arrived_s) problems.push_back("message " + id + " with a wrong arrival time");
    if (outbound.attempts != message.attempts_acknowledged && outbound.attempts != message.attempts_recording) {
      problems.push_back("message " + id + " lost its attempt state (" + std::to_string(outbound.attempts) + ")");
    } else if (outbound.attempts != 0 && outbound.next_retry_s != model_next_retry_s(message, outbound.attempts)) {
      problems.push_back("message " + id + " with a wrong next retry time");
    }
  }

  // A listed message shows the state last acknowledged, or the one a cut
  // interrupted; never another.
  void check_mailbox_state(Spool& spool, const ModelMessage& message, MessageId id, const std::string& mailbox,
                           std::vector<std::string>& problems) const {
    const auto known = states_.find({id, mailbox});
    const ModelMailboxState model = known != states_.end()
                                        ? known->second
                                        : ModelMailboxState{message.begin_state, message.begin_state};
    const std::optional<MailboxState> state = spool.mailbox_state(id, mailbox);
    if (!state || (*state != model.acknowledged && *state != model.recording)) {
      problems.push_back("message " + std::to_string(id) + " lost its mailbox state for " + mailbox);
    }
  }

  void collect_mailbox(Spool& spool, const std::string& mailbox, std::map<MessageId, std::set<std::uint8_t>>& delivered,
                       std::vector<std::string>& problems) const {
    std::vector<MaildropEntry> entries;
    for (std::uint8_t folder = 0; folder < MailboxState::folders; ++folder) {
      std::vector<MaildropEntry> in_folder(spool.usage().messages);
      in_folder.resize(spool.list_mailbox(mailbox, in_folder, folder));
      entries.insert(entries.end(), in_folder.begin(), in_folder.end());
    }
    for (const MaildropEntry& entry : entries) {
      check_content(spool, entry.id, problems);
      const auto message = messages_.find(entry.id);
      if (message == messages_.end()) continue;
      check_mailbox_state(spool, message->second, entry.id, mailbox, problems);
      if (entry.size_bytes != message->second.body.size()) problems.push_back("wrong size listed");
      for (std::uint8_t r = 0; r < message->second.recipients.size(); ++r) {
        if (message->second.recipients[r].mailbox == mailbox) delivered[entry.id].insert(r);
      }
    }
  }

  void collect_outbound(Spool& spool, std::map<MessageId, std::set<std::uint8_t>>& delivered,
                        std::vector<std::string>& problems) const {
    MessageId after = 0;
    for (std::size_t guard = 0; guard < PIGEON_SPOOL_MAX_MESSAGES; ++guard) {
      const auto next = spool.next_outbound(after);
      if (!next) return;
      after = next->id;
      check_content(spool, next->id, problems);
      check_relay_state(*next, problems);
      for (std::uint8_t r = 0; r < next->recipient_count; ++r) {
        if (next->owed_remote_mask[r]) delivered[next->id].insert(r);
      }
    }
  }

  std::map<MessageId, ModelMessage> messages_;
  std::map<std::pair<MessageId, std::string>, ModelMailboxState> states_;
  std::uint32_t next_arrival_s_ = 1'700'000'000;
};

inline const std::vector<ModelRecipient> to_alice{{"alice@home.example", "alice"}};
inline const std::vector<ModelRecipient> to_remote{{"carol@far.example", ""}};
inline const std::vector<ModelRecipient> to_alice_and_remote{{"alice@home.example", "alice"},
                                                             {"carol@far.example", ""}};
inline const std::vector<ModelRecipient> to_alice_and_bob{{"alice@home.example", "alice"},
                                                          {"bob@home.example", "bob"}};

}  // namespace pigeon::testing
