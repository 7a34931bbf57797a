// Fuzzes the spool's mount (firmware/spool_mount.cpp) with flash images it did
// not write, as a board meets them after a bit flip, a foreign image or a
// partial update. Two kinds of image, chosen by the tape:
// - a valid spool written through the Spool API (messages for local mailboxes
//   and for the smarthost, some deleted or relayed), then changed at offsets
//   and with values from the input;
// - the input itself as the whole image, padded with erased bytes.
// Whatever the image, mount must not crash or fail an assertion, and:
// - an unchanged valid image mounts to exactly the messages written, whose
//   bytes read back unchanged;
// - every listed message reads back to its listed size;
// - mount programs nothing unless it formats, so mounting again lists the same;
// - a message stored after the mount (250 given) is listed after a remount,
//   and so is every message listed before it: a damaged image may lose what
//   it damaged, never what was acknowledged on it afterwards;
// - IMAP's flags and folders (mailbox state records, docs/spool-format.md
//   §3.7) of an unchanged image mount as they were set, and the state set
//   after the mount is there after a remount;
// - the spool keeps one UIDVALIDITY (docs/spool-format.md §2.1): that of the
//   image as written when it is unchanged, whatever a remount is given for a
//   format; never 0; the same after the remount.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "firmware/spool.hpp"
#include "hal/memory/memory_flash.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

constexpr hal::FlashGeometry geometry{4096, 8, 16};

// Mailboxes "alice" (0) and "bob" (1).
class Mailboxes final : public MailboxDirectory {
 public:
  std::optional<std::uint8_t> mailbox_number(std::string_view name) const override {
    if (name == "alice") return 0;
    if (name == "bob") return 1;
    return std::nullopt;
  }
};
const Mailboxes mailboxes;
constexpr std::string_view mailbox_names[] = {"alice", "bob"};

struct Listed {
  std::string mailbox;
  MaildropEntry entry;
  MailboxState state;  // not compared: a damaged image may lose it
  bool operator==(const Listed& other) const {
    return mailbox == other.mailbox && entry.id == other.entry.id && entry.size_bytes == other.entry.size_bytes;
  }
};

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// A body of `length` bytes that differs with `seed`, ending in CRLF like mail.
std::string body_of(std::uint32_t seed, std::size_t length) {
  std::string body(length, 'x');
  for (std::size_t i = 0; i < length; ++i) body[i] = static_cast<char>('a' + (seed * 7 + i * 13) % 26);
  if (length >= 2) body.replace(length - 2, 2, "\r\n");
  return body;
}

// Stores one message for `mailbox` (empty: the smarthost); its id when the
// spool acknowledged it (committed and synced), 0 otherwise. `streamed`: its
// recipient as a recipient record (docs/spool-format.md §3.6), as the SMTP
// session writes it.
MessageId store(Spool& spool, std::string_view mailbox, std::string_view body, bool streamed) {
  const SpoolRecipient recipient{mailbox.empty() ? "friend@example.net" : "user@localhost", mailbox};
  const SpoolEnvelope envelope{"device@localhost", {&recipient, streamed ? 0u : 1u}, false, 0};
  SpoolWriter writer;
  if ((streamed ? spool.open_streamed(envelope, writer) : spool.open_message(envelope, writer)) != SpoolStatus::ok) {
    return 0;
  }
  if ((streamed && spool.add_recipient(writer, recipient) != SpoolStatus::ok) ||
      spool.append(writer, bytes_of(body)) != SpoolStatus::ok) {
    spool.discard(writer);
    return 0;
  }
  if (spool.commit(writer) != SpoolStatus::ok || spool.sync() != SpoolStatus::ok) return 0;
  return writer.message_id();
}

std::vector<Listed> list_all(Spool& spool) {
  std::vector<Listed> listed;
  for (const std::string_view mailbox : mailbox_names) {
    std::vector<MaildropEntry> entries(PIGEON_SPOOL_MAX_MESSAGES);
    const std::size_t count = spool.list_mailbox(mailbox, entries);
    require(count <= entries.size());
    for (std::size_t i = 0; i < count; ++i) {
      require(i == 0 || entries[i - 1].id < entries[i].id);  // oldest first
      listed.push_back({std::string(mailbox), entries[i], {}});
    }
  }
  return listed;
}

// The UIDVALIDITY the valid image is formatted with, and the one a mount of
// an image without a spool formats it with.
constexpr std::uint32_t written_uid_validity = 1765000000;
constexpr std::uint32_t formatted_uid_validity = 12345;

// The message's bytes; a flash in memory never fails a read, so neither may the spool.
std::string read_all(Spool& spool, MessageId id) {
  std::string out;
  std::uint8_t piece[300];
  while (true) {
    const std::optional<std::size_t> got = spool.read(id, static_cast<std::uint32_t>(out.size()), piece);
    require(got.has_value());
    if (*got == 0) return out;
    out.append(reinterpret_cast<const char*>(piece), *got);
  }
}

// Writes a spool with up to seven messages chosen by the tape; returns what
// each mailbox should list.
std::vector<Listed> write_valid_image(std::span<std::uint8_t> image, const Tape& tape) {
  hal::MemoryFlash flash(image, geometry);
  Spool spool(flash, mailboxes);
  require(spool.mount(written_uid_validity) == SpoolStatus::ok);
  std::vector<Listed> expected;
  const std::size_t messages = tape.at(1) % 8;
  for (std::size_t m = 0; m < messages; ++m) {
    const std::uint8_t choice = tape.at(2 + m);
    const std::string_view mailbox = choice % 3 == 2 ? std::string_view() : mailbox_names[choice % 3];
    const std::string body = body_of(static_cast<std::uint32_t>(m), 40 + choice * 3);
    const MessageId id = store(spool, mailbox, body, (choice & 0x40) != 0);
    require(id != 0);  // seven small messages fit in eight sectors
    if (mailbox.empty()) {
      if (choice & 0x80) require(spool.mark_recipient(id, 0, RecipientOutcome::relayed) == SpoolStatus::ok);
    } else if (choice & 0x80) {
      require(spool.mark_deleted(id, mailbox) == SpoolStatus::ok);
    } else {
      expected.push_back({std::string(mailbox), {id, static_cast<std::uint32_t>(body.size())}, {}});
      require(read_all(spool, id) == body);
      if (choice & 0x20) {
        const std::uint8_t byte = tape.at(10 + m);
        expected.back().state = {static_cast<std::uint8_t>(byte & MailboxState::flag_bits), MailboxState::inbox};
        require(spool.set_mailbox_flags(id, mailbox, byte) == SpoolStatus::ok);
      }
    }
  }
  require(spool.sync() == SpoolStatus::ok);
  // In list_all's order: mailbox by mailbox, oldest first.
  std::stable_sort(expected.begin(), expected.end(),
                   [](const Listed& a, const Listed& b) { return a.mailbox < b.mailbox; });
  return expected;
}

// Changes the image at (offset, xor) pairs read from `changes`.
void damage(std::span<std::uint8_t> image, std::span<const std::uint8_t> changes) {
  for (std::size_t i = 0; i + 2 < changes.size() && i < 3 * 32; i += 3) {
    const std::size_t offset = (changes[i] | changes[i + 1] << 8) * 7 % image.size();
    image[offset] ^= changes[i + 2];
  }
}

// Every listed message reads back to its size and has a state of its user's
// (a damaged image may have lost which).
void check_listed_messages_read_back(Spool& spool, const std::vector<Listed>& listed) {
  for (const Listed& message : listed) {
    require(read_all(spool, message.entry.id).size() == message.entry.size_bytes);
    require(spool.mailbox_state(message.entry.id, message.mailbox).has_value());
  }
}

}  // namespace
}  // namespace pigeon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pigeon;
  using namespace pigeon::fuzz;
  const Tape tape({data, size});
  std::vector<std::uint8_t> image(geometry.total_bytes(), 0xFF);
  const bool raw_image = tape.at(0) % 2 == 1;
  std::vector<Listed> written;
  if (raw_image) {
    std::memcpy(image.data(), tape.session().data(), std::min(image.size(), tape.session().size()));
  } else {
    written = write_valid_image(image, tape);
    damage(image, tape.session());
  }
  const bool damaged = raw_image || !tape.session().empty();

  hal::MemoryFlash flash(image, geometry);
  Spool spool(flash, mailboxes);
  const std::vector<std::uint8_t> before_mount = image;
  if (spool.mount(formatted_uid_validity) != SpoolStatus::ok) return 0;
  const std::uint32_t uid_validity = spool.uid_validity();
  require(uid_validity != 0);
  const std::vector<Listed> listed = list_all(spool);
  if (!damaged) {
    require(uid_validity == written_uid_validity);
    require(listed == written);
    for (const Listed& message : written) {
      require(spool.mailbox_state(message.entry.id, message.mailbox) == message.state);
    }
  }
  check_listed_messages_read_back(spool, listed);

  if (image == before_mount) {
    Spool again(flash, mailboxes);
    require(again.mount(formatted_uid_validity) == SpoolStatus::ok && list_all(again) == listed);
    require(again.uid_validity() == uid_validity);
  }

  const std::string body = body_of(99, 120);
  const MessageId id = store(spool, "bob", body, true);
  if (id == 0) return 0;
  const MailboxState seen{MailboxState::seen, MailboxState::inbox};
  const bool state_kept =
      spool.set_mailbox_flags(id, "bob", seen.flags) == SpoolStatus::ok && spool.sync() == SpoolStatus::ok;
  Spool remounted(flash, mailboxes);
  require(remounted.mount(formatted_uid_validity + 1) == SpoolStatus::ok);
  require(remounted.uid_validity() == uid_validity);
  const std::vector<Listed> after = list_all(remounted);
  for (const Listed& message : listed) require(std::find(after.begin(), after.end(), message) != after.end());
  const Listed added{"bob", {id, static_cast<std::uint32_t>(body.size())}, {}};
  require(std::find(after.begin(), after.end(), added) != after.end());
  require(read_all(remounted, id) == body);
  if (state_kept) require(remounted.mailbox_state(id, "bob") == seen);
  return 0;
}
