// IMAP server engine: RFC 9051 IMAP4rev2 (its responses after ENABLE
// IMAP4rev2) and RFC 3501 IMAP4rev1, with the extensions rev2 takes in and rev1
// clients ask for by name: RFC 2177 IDLE, 2342 NAMESPACE, 2971 ID, 3516
// BINARY, 3691 UNSELECT, 4315 UIDPLUS, 4731 ESEARCH, 4959 SASL-IR, 5161
// ENABLE, 5182 SEARCHRES, 5258 LIST-EXTENDED, 5819 LIST-STATUS, 6154
// SPECIAL-USE, 6851 MOVE and 7888 LITERAL-. Sans-I/O like the POP3 engine: bytes in through feed(),
// responses and message bytes out into a caller-owned OutputBuffer, every
// decision about the mailboxes through ImapServerPolicy. What it offers and
// what not, and why: docs/imap.md.
//
// Memory is bounded: a command, with the literals it carries, is assembled in
// a fixed buffer (max_command_bytes); FETCH, SEARCH, STORE, EXPUNGE, COPY and
// MOVE work through the mailbox one message at a time while the output drains, and a
// message's bytes are read from the policy in pieces, never held whole.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "imap_body_structure.hpp"
#include "imap_envelope.hpp"
#include "imap_header_filter.hpp"
#include "imap_saved_result.hpp"
#include "imap_syntax.hpp"
#include "imap_text_match.hpp"
#include "mime_decoder.hpp"
#include "mime_parser.hpp"
#include "output_buffer.hpp"
#include "session_engine.hpp"

namespace pigeon::protocol {

// The system flags (RFC 9051 §2.3.2), one bit each. Keywords are not kept.
enum ImapFlag : std::uint8_t {
  imap_seen = 1,
  imap_answered = 2,
  imap_flagged = 4,
  imap_deleted = 8,
  imap_draft = 16,
};
using ImapFlags = std::uint8_t;

struct ImapDecision {
  enum class Kind : std::uint8_t { accept, reject, pending };
  Kind kind = Kind::accept;
  std::string_view response_code;  // "AUTHENTICATIONFAILED", "UNAVAILABLE"; empty for none
  std::string_view text;

  static ImapDecision accepted() { return {}; }
  static ImapDecision rejected(std::string_view code, std::string_view text) { return {Kind::reject, code, text}; }
  static ImapDecision later() { return {Kind::pending, {}, {}}; }
};

// One of the user's mailboxes: its name and its RFC 6154 attribute ("\Sent"),
// empty for none.
struct ImapMailbox {
  std::string_view name;
  std::string_view special_use;
};

struct ImapMailboxStatus {
  std::uint32_t messages = 0;
  std::uint32_t unseen = 0;
  std::uint32_t deleted = 0;  // messages with \Deleted (RFC 9051 STATUS DELETED)
  std::uint32_t uid_next = 1;
  std::uint32_t uid_validity = 1;
  std::uint64_t size_bytes = 0;
};

// The mail store as one session sees it. Indexes are zero-based (the engine
// speaks one-based message sequence numbers). The selected mailbox's view
// changes only when the engine says so: through expunge(), and through
// refresh(), after which take_vanished() and message_count() tell the engine
// what others changed, so that it can announce it (RFC 9051 §7.5.1).
class ImapServerPolicy {
 public:
  // LOGIN and AUTHENTICATE PLAIN; usually pending.
  virtual ImapDecision login(std::string_view authzid, std::string_view user, std::string_view password) = 0;
  // STARTTLS: set a TLS session aside before the OK that promises the
  // handshake. False answers NO [UNAVAILABLE] and the session goes on.
  virtual bool reserve_tls() = 0;

  // The logged-in user's mailboxes, INBOX first.
  virtual std::size_t mailbox_count() = 0;
  virtual ImapMailbox mailbox(std::size_t index) = 0;
  virtual ImapMailboxStatus status(std::size_t mailbox) = 0;
  // The flags a change of which outlives the session (PERMANENTFLAGS).
  virtual ImapFlags permanent_flags() = 0;
  // SELECT/EXAMINE: takes the view of `mailbox` (leaving any other).
  virtual void select(std::size_t mailbox) = 0;
  // CLOSE, UNSELECT, a failed SELECT, the end of the session.
  virtual void unselect() = 0;

  virtual std::uint32_t message_count() = 0;
  virtual std::uint32_t uid(std::uint32_t index) = 0;
  virtual ImapFlags flags(std::uint32_t index) = 0;
  virtual void set_flags(std::uint32_t index, ImapFlags flags) = 0;
  virtual std::uint32_t size_bytes(std::uint32_t index) = 0;
  // When the message arrived, seconds since the Unix epoch; 0 when unknown.
  virtual std::uint32_t arrived_s(std::uint32_t index) = 0;
  // Stored message bytes from `offset`: how many, 0 at the end, nullopt when
  // they cannot be read (the engine then says BYE: a literal it announced can
  // never be completed honestly).
  virtual std::optional<std::size_t> read_message(std::uint32_t index, std::uint32_t offset,
                                                  std::span<std::uint8_t> out) = 0;
  // Removes the message from the store and from the view (later messages move
  // down by one). A refusal keeps it, and its words answer the command.
  virtual ImapDecision expunge(std::uint32_t index) = 0;
  // Makes the expunges and flag changes (set_flags) since the last commit
  // durable: usually pending. STORE, and a FETCH that set \Seen, answer
  // only after it accepts.
  virtual ImapDecision commit() = 0;
  // APPEND (RFC 3501 §6.3.11): a message of `size_bytes` for `mailbox` is
  // about to stream in. Accept opens it, and its bytes go to append_data();
  // a refusal says why (TOOBIG, CANNOT, UNAVAILABLE) before the client sends
  // them, or, for a non-synchronising literal, after they were read and dropped.
  // Never pending: the client is waiting for the continuation.
  virtual ImapDecision append_begin(std::size_t mailbox, std::uint32_t size_bytes, ImapFlags flags) = 0;
  // A piece of the message; false when the store cannot take it (the rest is
  // read and dropped, and append_end is told not to keep it).
  virtual bool append_data(std::span<const std::uint8_t> bytes) = 0;
  // The literal ended: keep (commit, usually pending until durable) or drop it.
  virtual ImapDecision append_end(bool keep) = 0;
  // The UID the message kept by the last append_end() got.
  virtual std::uint32_t appended_uid() = 0;

  // COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8): the engine
  // copies the messages of the set one at a time, in ascending order, in one
  // transaction of the destination: copy_begin(), copy_message() for each,
  // then copy_commit() or, when a copy was refused, copy_discard().
  //
  // copy_begin: copies into `mailbox` are about to be made; never pending.
  // `move`: they are for a MOVE: once copy_commit() has accepted them, the
  // engine removes their sources through expunge() and commit(), as EXPUNGE
  // does (a MOVE never sets \Deleted). A policy that could not remove them
  // (POP3 holds the mailbox) refuses here, before anything is copied. A
  // refusal's words answer the command: CANNOT (the mailbox takes no copies),
  // OVERQUOTA, INUSE, UNAVAILABLE. A MOVE of many messages is made in
  // batches, so that each batch's COPYUID fits a response line; each batch
  // is a transaction of its own, then its removals and their commit().
  virtual ImapDecision copy_begin(std::size_t mailbox, bool move) = 0;
  // Copies the message at `index` (with its flags) into the transaction's
  // mailbox; never pending. Accept: copied_uid() is the copy's UID, greater
  // than any the mailbox gave before. A refusal's words answer the command,
  // and copy_discard() follows.
  virtual ImapDecision copy_message(std::uint32_t index) = 0;
  virtual std::uint32_t copied_uid() = 0;
  // The transaction's copies become part of the mailbox, durable before the
  // decision accepts (usually pending, resumed like commit()). A refusal
  // keeps none of them.
  virtual ImapDecision copy_commit() = 0;
  // Drops every copy of the transaction: the mailbox is as it was ("partial
  // copy MUST NOT be done", RFC 9051 §6.4.7; only its UIDNEXT may have grown).
  virtual void copy_discard() = 0;

  // Takes in what other sessions and deliveries changed in the store.
  virtual void refresh() = 0;
  // A message another session (or POP3) removed whose EXPUNGE this session has
  // not announced yet: it keeps its number until then, but has no content.
  virtual bool expunged_elsewhere(std::uint32_t index) = 0;
  // A message that refresh() found gone: its index now; the view drops it.
  virtual std::optional<std::uint32_t> take_vanished() = 0;
  // After the messages that vanished: a message whose flags another session
  // changed (RFC 9051 §7.5.2), one at a time; flags() is already the new
  // flags. nullopt when none is left to announce.
  virtual std::optional<std::uint32_t> take_flag_change() = 0;
  // The session ends (LOGOUT, or the connection is lost).
  virtual void release() = 0;

 protected:
  ~ImapServerPolicy() = default;
};

struct ImapServerSettings {
  std::string_view host_name;
  bool tls_active = false;        // implicit TLS (993), or set by tls_started()
  bool starttls_offered = false;
  bool login_requires_tls = true;  // LOGINDISABLED before TLS
};

class ImapServer final : public SessionEngine {
 public:
  // Output room every response but a streamed message part needs.
  static constexpr std::size_t reply_reserve_bytes = 512;
  // A command with its literals (RFC 7162 §4 asks clients to keep lines under
  // 8192 octets; 1 KB holds a LOGIN, a FETCH or a SEARCH of any sensible kind).
  static constexpr std::size_t max_command_bytes = 1024;
  // FETCH attributes per command.
  static constexpr std::size_t max_fetch_items = 12;
  // Messages one pump() of a FETCH or SEARCH works through at most: ENVELOPE,
  // BODYSTRUCTURE and SEARCH's text keys read each message, and the loop
  // serves no one else meanwhile.
  static constexpr std::uint32_t messages_per_pump = 16;

  ImapServer(ImapServerPolicy& policy, OutputBuffer& out, const ImapServerSettings& settings);

  void start();  // the greeting
  // Consumes what it can; stops while a decision is pending, while a command
  // works through the mailbox, after the OK to STARTTLS and after LOGOUT.
  std::size_t feed(std::span<const std::uint8_t> input) override;
  // Continues a command that works through the mailbox, into free output space.
  void pump();
  void resume(const ImapDecision& decision);
  // Something in the store may have changed (a delivery): an IDLE client
  // hears of it at once.
  void store_changed();
  void tls_started() override;
  void abort_session(std::string_view text);  // * BYE and end (timeouts)

  bool awaiting_decision() const override;
  bool streaming() const;
  // The job stopped by itself with work left (a FETCH or SEARCH after
  // messages_per_pump messages): pump() again once others had a turn.
  bool yielded() const;
  bool idling() const;
  bool authenticated() const;
  bool awaiting_tls() const override;
  bool finished() const override;

 private:
  enum class State : std::uint8_t { not_authenticated, authenticated, selected, logout };
  // flags: a STORE or FETCH waits for its flag changes to be durable.
  enum class Wait : std::uint8_t { none, login, commit, flags, copy, append, tls, auth_plain_response, idle };
  // How the bytes that come next are read.
  enum class Input : std::uint8_t { line, literal, append_literal, skip_literal, discard_line };
  // An APPEND whose literal streams to the store, or is dropped to be refused.
  enum class Append : std::uint8_t { none, streaming, refused };
  // A command that works through the selected mailbox, a message at a time.
  // MOVE's removals are an expunge job that removes the batch just copied.
  enum class Job : std::uint8_t { none, fetch, store, search, expunge, copy };
  enum class Section : std::uint8_t { whole, header, fields, fields_not, text, mime };
  // structure: BODY or BODYSTRUCTURE (extensible); binary_size: BINARY.SIZE.
  enum class Item : std::uint8_t { uid, flags, internal_date, size, envelope, body, structure, binary_size };

  struct FetchItem {
    Item item = Item::uid;
    Section section = Section::whole;
    bool peek = false;
    bool extensible = false;   // BODYSTRUCTURE rather than BODY
    bool binary = false;       // BINARY[part]: the body with its transfer encoding undone (RFC 3516)
    bool rfc822_name = false;  // RFC822, RFC822.HEADER, RFC822.TEXT: named so in the reply
    bool partial = false;
    std::uint32_t partial_offset = 0;
    std::uint32_t partial_length = 0;
    std::string_view fields;  // HEADER.FIELDS(.NOT): the list, as given
    std::string_view part;    // the MIME part number ("1.2"), empty for the message
  };
  // Where a section's bytes lie in the message: [begin, end) as they are, or
  // the header that begins at `begin` through body_filter_.
  struct SectionBytes {
    std::uint32_t begin = 0;
    std::uint32_t end = 0;
    bool filtered = false;
    mime::Encoding encoding = mime::Encoding::identity;  // BINARY: what to undo
  };

  // Input.
  std::size_t take_line_bytes(std::span<const std::uint8_t> input);
  std::size_t take_literal_bytes(std::span<const std::uint8_t> input);
  void keep_tail(std::string_view dropped);
  void line_complete();
  bool literal_announced();
  bool begin_append(bool synchronising, std::uint32_t length);
  void refuse_append(bool synchronising, std::uint32_t length, bool syntax, std::string_view code,
                     std::string_view text);
  void finish_append();
  void reset_command();

  // Commands.
  void handle_command(std::string_view command);
  void dispatch(std::string_view name, imap::Cursor& arguments);
  bool any_state(std::string_view name, imap::Cursor& arguments);
  bool not_authenticated_state(std::string_view name, imap::Cursor& arguments);
  bool authenticated_state(std::string_view name, imap::Cursor& arguments);
  bool selected_state(std::string_view name, imap::Cursor& arguments, bool uid);
  void on_capability();
  void on_login(imap::Cursor& arguments);
  void on_authenticate(imap::Cursor& arguments);
  void finish_auth_plain(std::string_view response);
  void begin_login(std::string_view authzid, std::string_view user, std::string_view password);
  void on_enable(imap::Cursor& arguments);
  void on_list(imap::Cursor& arguments, bool lsub);
  void write_list(std::string_view kind, std::size_t mailbox, bool subscribed);
  void on_status(imap::Cursor& arguments);
  bool write_status(std::optional<std::size_t> mailbox, std::string_view items);
  void on_select(imap::Cursor& arguments, bool read_only);
  void on_fetch(imap::Cursor& arguments, bool uid);
  static FetchItem simple_item(Item kind);
  bool parse_fetch_item(imap::Cursor& arguments, FetchItem& item);
  bool parse_section(imap::Cursor& arguments, FetchItem& item);
  bool parse_binary(imap::Cursor& arguments, FetchItem& item, std::string_view name);
  bool parse_partial(imap::Cursor& arguments, FetchItem& item);
  void on_store(imap::Cursor& arguments, bool uid);
  void on_search(imap::Cursor& arguments, bool uid);
  void on_close(bool expunge_first);
  void begin_expunge(bool silent, std::string_view uid_set);
  void on_copy(imap::Cursor& arguments, bool uid, bool move);
  bool set_has_expunged_elsewhere();
  bool begin_copy_batch();
  void pump_copy();
  void end_copy_batch();
  void finish_copy();
  void copy_kept();
  void move_removed();
  void refuse_copy(const ImapDecision& decision);
  std::string_view copyuid_code(std::span<char> out);
  std::optional<std::size_t> find_mailbox(std::string_view name);
  void leave_mailbox();
  void announce_changes();
  void finish_flags_job(Job job);

  // Jobs.
  void start_job(Job job, std::string_view set, bool uid);
  static bool valid_set(std::string_view set, bool uid, std::uint32_t count);
  bool in_set(std::uint32_t index);
  bool removes(std::uint32_t index);
  bool next_in_set(std::uint32_t count);
  void pump_fetch();
  bool fetch_message_start();
  bool fetch_item();
  bool stream_body();
  std::optional<std::uint32_t> section_length(const FetchItem& item, const SectionBytes& bytes);
  std::optional<bool> locate_section(const FetchItem& item, SectionBytes& bytes);
  bool fetch_structure(const FetchItem& item);
  bool load_structure();
  std::optional<bool> encodings_known();
  bool part_encoding(std::uint8_t part, std::optional<mime::Encoding>& encoding);
  std::optional<std::uint32_t> decoded_length(const SectionBytes& bytes);
  bool fetch_envelope_field();
  std::optional<std::uint32_t> header_length(imap::HeaderSelection selection, std::string_view fields,
                                             bool filtered_bytes, std::uint32_t begin = 0,
                                             std::uint32_t end = UINT32_MAX);
  void write_item_name(const FetchItem& item);
  void write_flags(ImapFlags flags);
  void pump_store();
  bool start_search(imap::Cursor& arguments, bool uid);
  bool parse_search_return(std::string_view options);
  bool search_quiet() const;
  bool save_search_result();
  void pump_search();
  bool search_matches(std::uint32_t index);
  void note_search_match(std::uint32_t number, TextBuilder& out);
  void finish_esearch();
  void pump_expunge();
  void finish_job();
  void abandon_message();

  // Replies.
  void untagged(std::string_view text);
  void tagged(std::string_view status, std::string_view code, std::string_view text);
  void tagged_ok(std::string_view text) { tagged("OK", {}, text); }
  void bad(std::string_view text) { tagged("BAD", {}, text); }
  void no(std::string_view code, std::string_view text) { tagged("NO", code, text); }

  ImapServerPolicy& policy_;
  OutputBuffer& out_;
  ImapServerSettings settings_;
  State state_ = State::not_authenticated;
  Wait wait_ = Wait::none;
  bool read_only_ = false;
  bool rev2_ = false;  // ENABLE IMAP4rev2 (RFC 9051 §6.3.1): its responses, not rev1's
  std::uint32_t known_messages_ = 0;  // what the client was told exists

  // The command being assembled: its lines and literals as they came, each
  // line end as CRLF.
  std::array<char, max_command_bytes> command_{};
  std::size_t command_length_ = 0;
  std::size_t line_start_ = 0;       // where the line being read began (after a literal)
  Input input_ = Input::line;
  std::uint32_t literal_left_ = 0;   // bytes of the literal still to come
  bool command_too_long_ = false;    // the command is being read to its end, then refused
  // The last bytes of a line being dropped: whether a literal follows it.
  std::array<char, 16> tail_{};
  std::size_t tail_length_ = 0;
  // The tag of the command being answered: kept apart, since IDLE's DONE and
  // a SASL response are read into command_ while the command is not done.
  std::array<char, 64> tag_{};
  std::size_t tag_length_ = 0;

  // The job of the command being answered (its arguments are views into command_).
  Job job_ = Job::none;
  bool job_uid_ = false;
  bool job_silent_ = false;
  std::string_view job_set_;
  std::string_view search_program_;
  // SEARCH RETURN (RFC 4731): what the ESEARCH response carries, and what the
  // search found so far.
  struct SearchReturn {
    bool extended = false;  // ESEARCH instead of SEARCH
    bool min = false;
    bool max = false;
    bool all = false;
    bool count = false;
    bool save = false;      // RFC 5182: the result becomes "$"
    bool save_all = false;  // all of it, not only the MIN and MAX messages
    std::uint32_t matches = 0;
    std::uint32_t first_index = 0;  // the MIN and MAX messages, for SAVE
    std::uint32_t last_index = 0;
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    imap::SequenceSetWriter all_set;
  };
  SearchReturn search_return_;
  imap::SavedResult saved_result_;
  std::uint32_t job_index_ = 0;
  bool yielded_ = false;  // see yielded()
  std::uint32_t job_largest_ = 0;  // what '*' stands for
  // The set named a message removed elsewhere: FETCH and STORE pass it by and
  // end with NO [EXPUNGEISSUED] (RFC 2180 §4.1.3, RFC 5530).
  bool job_met_expunged_ = false;
  bool job_changed_flags_ = false;  // the job called set_flags: commit() before its tagged response
  Job flags_job_ = Job::none;       // the STORE or FETCH that waits for that commit
  ImapFlags store_flags_ = 0;
  char store_mode_ = '=';          // '+', '-' or '='
  ImapDecision expunge_refusal_;   // the first message an EXPUNGE could not remove
  // Messages of the set a MOVE removed: later ones' sequence numbers are
  // their indexes plus this plus one.
  std::uint32_t job_removed_ = 0;

  // COPY and MOVE: the destination, the batch being copied (from
  // copy_batch_begin_ to job_index_; MOVE removes it, then copies the next),
  // and the batch's COPYUID sets (RFC 4315 §3) as the copies are made. A
  // COPY, one transaction, whose sets outgrow their buffers answers without
  // COPYUID; a MOVE ends a batch before they would.
  static constexpr std::size_t copyuid_set_bytes = 192;
  bool copy_move_ = false;
  std::size_t copy_mailbox_ = 0;
  std::uint32_t copy_batch_begin_ = 0;
  std::uint32_t copy_batch_end_ = 0;
  bool copy_uids_complete_ = true;
  bool copyuid_owed_ = false;  // a MOVE batch's "* OK [COPYUID ...]", before its EXPUNGEs

  Append append_ = Append::none;
  bool append_failed_ = false;       // the store refused a piece
  std::size_t append_mailbox_ = 0;
  // A refused APPEND's answer, said when its dropped literal has been read.
  bool append_refusal_bad_ = false;
  ImapDecision append_refusal_;

  std::array<FetchItem, max_fetch_items> fetch_items_{};
  std::size_t fetch_item_count_ = 0;
  std::size_t fetch_item_index_ = 0;
  bool fetch_in_message_ = false;
  bool fetch_flags_changed_ = false;  // \Seen was set by this FETCH: FLAGS go out too
  std::uint8_t envelope_field_ = 0;   // the ENVELOPE field written next
  // The body part being streamed: raw bytes read, section bytes passed, and
  // the section's window.
  bool body_streaming_ = false;
  std::uint32_t body_raw_offset_ = 0;
  std::uint32_t body_section_offset_ = 0;
  std::uint32_t body_window_begin_ = 0;
  std::uint32_t body_window_end_ = 0;
  std::uint32_t body_raw_end_ = 0;  // where a filtered header or a decoded body ends
  std::optional<imap::HeaderFilter> body_filter_;
  std::optional<mime::TransferDecoder> body_decoder_;
  bool fetch_unknown_encoding_ = false;  // a BINARY part's encoding is not known: NO [UNKNOWN-CTE]
  // The MIME structure of the message at structure_index_ (computed by one
  // pass when a FETCH first needs it), and BODY/BODYSTRUCTURE being written.
  // A FETCH's structure and a COPY's UID sets are never needed at once: they
  // share their room (COPY forgets the structure).
  struct CopyUids {
    imap::SequenceSetText<copyuid_set_bytes> source;
    imap::SequenceSetText<copyuid_set_bytes> destination;
  };
  std::variant<mime::Structure, CopyUids> job_room_;
  mime::Structure& structure();
  CopyUids& copy_uids();
  std::optional<std::uint32_t> structure_index_;
  std::optional<imap::BodyStructureWriter> structure_writer_;
};

}  // namespace pigeon::protocol
