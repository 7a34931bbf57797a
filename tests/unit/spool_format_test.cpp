// The spool's on-flash codecs against the tables of docs/spool-format.md: the
// bytes each structure encodes to, what decode refuses, round trips, and the
// outcome bits. The fuzz target tests/fuzz/spool_format_fuzz.cpp checks the
// round trips on any bytes.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "firmware/crc32.hpp"
#include "firmware/spool_format.hpp"

namespace pigeon::spool_format {
namespace {

std::uint32_t u32_at(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return bytes[offset] | bytes[offset + 1] << 8 | bytes[offset + 2] << 16 | std::uint32_t{bytes[offset + 3]} << 24;
}

TEST(SpoolFormat, SectorHeaderBytesFollowSection2_1) {
  const SectorHeader header{7, 3, 100, 5, 4096, 16, 1765432109};
  std::array<std::uint8_t, 40> out{};
  out.fill(0xEE);
  ASSERT_EQ(header.encode(out), 36u);
  EXPECT_EQ(std::string(out.begin(), out.begin() + 4), "PGSP");
  EXPECT_EQ(out[4], 7);   // format version
  EXPECT_EQ(out[6], 16);  // program unit (version 7)
  EXPECT_EQ(u32_at(out, 8), 7u);
  EXPECT_EQ(u32_at(out, 12), 3u);
  EXPECT_EQ(u32_at(out, 16), 100u);
  EXPECT_EQ(u32_at(out, 20), 5u);
  EXPECT_EQ(u32_at(out, 24), 4096u);
  EXPECT_EQ(u32_at(out, 28), 1765432109u);  // UIDVALIDITY
  EXPECT_EQ(u32_at(out, 32), crc32({out.data(), 32}));
  EXPECT_EQ(out[36], 0xEE);  // nothing past the structure: the caller pads
  EXPECT_EQ(SectorHeader::decode(out), header);
}

// The bytes of a header as versions 5 and 6 wrote it (§2.1's older layout).
std::array<std::uint8_t, 36> older_header(std::uint8_t version, std::uint16_t reserved = 0) {
  std::array<std::uint8_t, 36> out{};
  const std::uint32_t words[] = {0x50534750, 0, 7, 3, 100, 5, 4096, 0};
  for (std::size_t w = 0; w < 8; ++w) {
    for (int i = 0; i < 4; ++i) out[4 * w + i] = static_cast<std::uint8_t>(words[w] >> (8 * i));
  }
  out[4] = version;
  out[6] = 36;  // header bytes
  out[28] = 16;  // program unit
  out[30] = static_cast<std::uint8_t>(reserved);
  const std::uint32_t crc = crc32({out.data(), 32});
  for (int i = 0; i < 4; ++i) out[32 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
  return out;
}

TEST(SpoolFormat, SectorHeadersOfVersions5And6ReadWithUidValidity1AndEncodeBack) {
  for (const std::uint8_t version : {std::uint8_t{5}, std::uint8_t{6}}) {
    const std::array<std::uint8_t, 36> bytes = older_header(version);
    const auto decoded = SectorHeader::decode(bytes);
    ASSERT_TRUE(decoded) << int{version};
    EXPECT_EQ(*decoded, (SectorHeader{7, 3, 100, 5, 4096, 16, 1, version}));
    std::array<std::uint8_t, 36> again{};
    decoded->encode(again);
    EXPECT_EQ(again, bytes);
    // What no writer of those versions made: a reserved field that is not 0.
    EXPECT_FALSE(SectorHeader::decode(older_header(version, 1))) << int{version};
  }
}

TEST(SpoolFormat, SectorHeaderRefusesWrongMagicVersionCrcZeroUidValidityAndShortSpans) {
  std::array<std::uint8_t, 36> good{};
  SectorHeader{1, 0, 1, 0, 4096, 16, 2}.encode(good);
  ASSERT_TRUE(SectorHeader::decode(good));
  EXPECT_FALSE(SectorHeader::decode(std::span(good).first(35)));
  for (const std::size_t offset : {0u, 4u, 6u, 10u, 29u, 33u}) {
    std::array<std::uint8_t, 36> bad = good;
    bad[offset] ^= 1;
    EXPECT_FALSE(SectorHeader::decode(bad)) << "byte " << offset;
  }
  const auto resealed = [](std::array<std::uint8_t, 36> bytes) {
    const std::uint32_t crc = crc32({bytes.data(), 32});
    for (int i = 0; i < 4; ++i) bytes[32 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
    return bytes;
  };
  std::array<std::uint8_t, 36> zero_uid_validity = good;
  zero_uid_validity[28] = 0;
  EXPECT_FALSE(SectorHeader::decode(resealed(zero_uid_validity))) << "UIDVALIDITY is a non-zero number";
  // Versions 2 and 4 with a correct CRC are still not read, nor a version
  // from the future (§2.1).
  for (const int version : {2, 4, 8}) {
    std::array<std::uint8_t, 36> other = good;
    other[4] = static_cast<std::uint8_t>(version);
    EXPECT_FALSE(SectorHeader::decode(resealed(other))) << version;
  }
}

TEST(SpoolFormat, EraseIntentRoundTripsAndChecksItsCrc) {
  std::array<std::uint8_t, 12> out{};
  ASSERT_EQ((EraseIntent{41, 9}).encode(out), 12u);
  EXPECT_EQ(u32_at(out, 0), 41u);
  EXPECT_EQ(u32_at(out, 4), 9u);
  EXPECT_EQ(EraseIntent::decode(out), (EraseIntent{41, 9}));
  out[8] ^= 0x80;
  EXPECT_FALSE(EraseIntent::decode(out));
}

TEST(SpoolFormat, RecordHeaderBytesFollowSection3) {
  const RecordHeader header{RecordType::commit, 0, 24, 0x01020304, 0xCAFEF00D};
  std::array<std::uint8_t, 16> out{};
  ASSERT_EQ(header.encode(out), 16u);
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[2], 24);
  EXPECT_EQ(u32_at(out, 4), 0x01020304u);
  EXPECT_EQ(u32_at(out, 8), 0xCAFEF00Du);
  EXPECT_EQ(u32_at(out, 12), crc32({out.data(), 12}));
  EXPECT_EQ(RecordHeader::decode(out), header);
}

TEST(SpoolFormat, RecordHeaderRefusesTypesOutsideOneToSevenAndErasedFlash) {
  std::array<std::uint8_t, 16> erased{};
  erased.fill(0xFF);
  EXPECT_FALSE(RecordHeader::decode(erased));
  for (const std::uint8_t type : std::initializer_list<std::uint8_t>{0, 8, 0xFF}) {
    std::array<std::uint8_t, 16> out{};
    RecordHeader{RecordType::data, 0, 1, 1, 0}.encode(out);
    out[0] = type;
    const std::uint32_t crc = crc32({out.data(), 12});  // a correct CRC does not make it a record
    for (int i = 0; i < 4; ++i) out[12 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
    EXPECT_FALSE(RecordHeader::decode(out)) << int{type};
  }
}

TEST(SpoolFormat, EnvelopeEncodesFixedPartSenderAndRecipients) {
  std::array<std::uint8_t, 128> list{};
  std::size_t list_bytes = EnvelopeRecipient{"alice@home.example", "alice"}.encode(list);
  list_bytes += EnvelopeRecipient{"carol@far.example", ""}.encode(std::span(list).subspan(list_bytes));
  Envelope envelope;
  envelope.flags = Envelope::flag_8bit;
  envelope.recipient_count = 2;
  envelope.arrived_s = 1'700'000'000;
  envelope.sender = "s@lan.example";
  envelope.recipient_list = std::span(list).first(list_bytes);
  std::vector<std::uint8_t> out(envelope.encoded_bytes());
  // The fixed part, one byte of outcomes (two recipients), the sender, the list.
  ASSERT_EQ(envelope.encode(out), 16u + 1u + 13u + (3 + 18 + 5) + (3 + 17));
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], 2);
  EXPECT_EQ(out[2], 13);
  EXPECT_EQ(u32_at(out, 4), 1'700'000'000u);
  EXPECT_EQ(out[16], 0);  // both owed
  EXPECT_EQ(std::string(out.begin() + 17, out.begin() + 30), "s@lan.example");
  EXPECT_EQ(out[30], 18);  // address length, then mailbox length
  EXPECT_EQ(out[32], 5);
  const auto decoded = Envelope::decode(out);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, envelope);
  EXPECT_TRUE(decoded->body_8bit());
  std::vector<EnvelopeRecipient> seen;
  decoded->for_each_recipient([&](std::uint8_t, const EnvelopeRecipient& r) { seen.push_back(r); });
  EXPECT_EQ(seen, (std::vector<EnvelopeRecipient>{{"alice@home.example", "alice"}, {"carol@far.example", ""}}));
}

// §3.1 byte 10, §3.7: the flags in bits 0-4, the folder in bits 5-7.
TEST(SpoolFormat, MailboxStateIsOneByteOfFlagsAndFolder) {
  EXPECT_EQ((MailboxState{MailboxState::seen | MailboxState::draft, MailboxState::drafts}).encode(), 0x11 | 2 << 5);
  EXPECT_EQ(MailboxState::decode(0x48), (MailboxState{MailboxState::deleted, MailboxState::drafts}));
  EXPECT_EQ(MailboxState::decode(4 << 5 | 0x1F), (MailboxState{0x1F, MailboxState::junk}));
  for (const int folder : {5, 6, 7}) EXPECT_FALSE(MailboxState::decode(static_cast<std::uint8_t>(folder << 5)));
  // A begin keeps its local recipients' state in byte 10; a folder that does
  // not exist makes it no begin.
  const std::array<std::uint8_t, 3> recipient{0, 0, 0};
  Envelope envelope;
  envelope.recipient_count = 1;
  envelope.mailbox_state = MailboxState{MailboxState::seen, MailboxState::sent}.encode();
  envelope.recipient_list = recipient;
  std::vector<std::uint8_t> out(envelope.encoded_bytes());
  envelope.encode(out);
  EXPECT_EQ(out[10], 0x21);
  EXPECT_EQ(out[11], 0);
  EXPECT_EQ(Envelope::decode(out), envelope);
  out[10] = 5 << 5;
  EXPECT_FALSE(Envelope::decode(out));
}

// §3.7: a count, a reserved byte, then (recipient, state) pairs in ascending
// recipient order.
TEST(SpoolFormat, MailboxStatesNameRecipientsInOrderWithValidStates) {
  const std::array<std::uint8_t, 6> pairs{0, 0x01, 3, 0x68, 97, 0x10};
  const MailboxStates states{3, 0, pairs};
  std::array<std::uint8_t, 8> out{};
  ASSERT_EQ(states.encode(out), 8u);
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[1], 0);
  EXPECT_EQ(out[4], 3);
  EXPECT_EQ(out[5], 0x68);
  const auto decoded = MailboxStates::decode(out);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, states);
  EXPECT_EQ(decoded->state_of(3), (MailboxState{MailboxState::deleted, MailboxState::trash}));
  EXPECT_EQ(decoded->state_of(97), (MailboxState{MailboxState::draft, MailboxState::inbox}));
  EXPECT_FALSE(decoded->state_of(1));
  EXPECT_FALSE(MailboxStates::decode(std::span(out).first(2)));  // count 3 but no pairs
  std::array<std::uint8_t, 2> none{0, 0};
  EXPECT_TRUE(MailboxStates::decode(none));
  std::array<std::uint8_t, 8> bad = out;
  bad[4] = 0;  // 0, 0, 97: not ascending
  EXPECT_FALSE(MailboxStates::decode(bad));
  bad = out;
  bad[5] = 0xE0;  // folder 7
  EXPECT_FALSE(MailboxStates::decode(bad));
  bad = out;
  bad[0] = 2;  // the length does not add up
  EXPECT_FALSE(MailboxStates::decode(bad));
  bad = out;
  bad[6] = PIGEON_MAX_RECIPIENTS;  // a recipient this build cannot have
  EXPECT_FALSE(MailboxStates::decode(bad));
}

TEST(SpoolFormat, EnvelopeRefusesBadCountsCutEntriesAndTrailingBytes) {
  std::array<std::uint8_t, 32> list{};
  const std::size_t list_bytes = EnvelopeRecipient{"a@b", ""}.encode(list);
  Envelope envelope;
  envelope.recipient_count = 1;
  envelope.recipient_list = std::span(list).first(list_bytes);
  std::vector<std::uint8_t> out(envelope.encoded_bytes() + 1);
  envelope.encode(out);
  EXPECT_FALSE(Envelope::decode(out));  // a byte after the last recipient
  out.pop_back();
  ASSERT_TRUE(Envelope::decode(out));
  EXPECT_FALSE(Envelope::decode(std::span(out).first(out.size() - 1)));  // the last address cut
  for (const std::uint8_t count : std::initializer_list<std::uint8_t>{0, PIGEON_MAX_RECIPIENTS + 1, 2}) {
    std::vector<std::uint8_t> bad = out;
    bad[1] = count;
    EXPECT_FALSE(Envelope::decode(bad)) << int{count};
  }
  EXPECT_FALSE(Envelope::decode(std::span(out).first(15)));
}

TEST(SpoolFormat, EnvelopeOfAHundredRecipientsKeepsEachOutcome) {
  std::vector<std::uint8_t> list(100 * 8);
  std::size_t list_bytes = 0;
  for (int r = 0; r < 100; ++r) list_bytes += EnvelopeRecipient{"r@x", ""}.encode(std::span(list).subspan(list_bytes));
  Envelope envelope;
  envelope.recipient_count = 100;
  envelope.recipient_list = std::span(list).first(list_bytes);
  RecipientSet last_and_first;
  last_and_first[0] = last_and_first[99] = true;
  envelope.outcomes.record(last_and_first, 2, 100);
  std::vector<std::uint8_t> out(envelope.encoded_bytes());
  ASSERT_EQ(envelope.encode(out), 16u + 25u + 100 * 6);
  EXPECT_EQ(out[16], 2);       // recipient 0 at bits 0..1 of the first byte
  EXPECT_EQ(out[16 + 24], 0x80);  // recipient 99 at bits 6..7 of byte 24
  const auto decoded = Envelope::decode(out);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, envelope);
  EXPECT_EQ(decoded->outcomes.code(99), 2);
  EXPECT_TRUE(decoded->outcomes.owed(98));
}

TEST(SpoolFormat, EnvelopeRewrittenInPlaceKeepsSenderAndRecipients) {
  std::array<std::uint8_t, 32> list{};
  const std::size_t list_bytes = EnvelopeRecipient{"a@b", "alice"}.encode(list);
  Envelope envelope;
  envelope.recipient_count = 1;
  envelope.sender = "x@y";
  envelope.recipient_list = std::span(list).first(list_bytes);
  std::vector<std::uint8_t> bytes(envelope.encoded_bytes());
  envelope.encode(bytes);
  Envelope copy = *Envelope::decode(bytes);
  copy.outcomes.record(RecipientSet(1), 1, 1);
  copy.attempts = 4;
  copy.next_retry_s = 99;
  ASSERT_EQ(copy.encode(bytes), bytes.size());
  const auto decoded = Envelope::decode(bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->sender, "x@y");
  EXPECT_EQ(decoded->attempts, 4);
  EXPECT_EQ(decoded->next_retry_s, 99u);
  EXPECT_FALSE(decoded->outcomes.owed(0));
}

TEST(SpoolFormat, CommitIsExactly24BytesFollowingSection3_3) {
  const Commit commit{0x1000, 0xAABBCCDD, 5000, 0x11223344, 5, 300, 100, 0};
  std::array<std::uint8_t, 24> out{};
  ASSERT_EQ(commit.encode(out), 24u);
  EXPECT_EQ(u32_at(out, 0), 0x1000u);
  EXPECT_EQ(u32_at(out, 8), 5000u);
  EXPECT_EQ(u32_at(out, 16), 5u);
  EXPECT_EQ(out[20] | out[21] << 8, 300);
  EXPECT_EQ(out[22], 100);  // recipient records of a streamed envelope
  EXPECT_EQ(Commit::decode(out), commit);
  EXPECT_FALSE(Commit::decode(std::span(out).first(23)));
  std::array<std::uint8_t, 25> longer{};
  EXPECT_FALSE(Commit::decode(longer));
}

// §3.1 with flag 2 and §3.6: the begin of a streamed envelope has no
// outcomes and no list; each recipient is a record of its own.
TEST(SpoolFormat, StreamedEnvelopeAndRecipientRecordsFollowSections3_1And3_6) {
  Envelope head;
  head.flags = Envelope::flag_streamed | Envelope::flag_8bit;
  head.sender = "alice@home.example";
  std::array<std::uint8_t, 64> out{};
  const std::size_t length = head.encode(out);
  EXPECT_EQ(length, Envelope::fixed_bytes + head.sender.size());
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[1], 0);  // no outcomes in a streamed begin
  const auto decoded = Envelope::decode(std::span(out).first(length));
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->streamed() && decoded->body_8bit());
  EXPECT_EQ(*decoded, head);
  std::array<std::uint8_t, 64> longer = out;
  longer[length] = 0;  // a list after the sender is refused
  EXPECT_FALSE(Envelope::decode(std::span(longer).first(length + 1)));
  out[1] = 1;  // nor are outcomes
  EXPECT_FALSE(Envelope::decode(std::span(out).first(length + 1)));

  const std::string address(250, 'a');
  const RecipientRecord record{99, 0, {address, "bob"}};
  std::array<std::uint8_t, 300> bytes{};
  ASSERT_EQ(record.encode(bytes), 2u + 3u + 250u + 3u);
  EXPECT_EQ(bytes[0], 99);
  EXPECT_EQ(bytes[2] | bytes[3] << 8, 250);
  EXPECT_EQ(bytes[4], 3);
  EXPECT_EQ(RecipientRecord::decode(std::span(bytes).first(258)), record);
  EXPECT_FALSE(RecipientRecord::decode(std::span(bytes).first(257)));  // cut
  EXPECT_FALSE(RecipientRecord::decode(std::span(bytes).first(259)));  // trailing bytes
  EXPECT_FALSE(RecipientRecord::decode(std::span(bytes).first(1)));
}

TEST(SpoolFormat, OutcomeAcceptsTheThreeCodesOnly) {
  const std::array<std::uint8_t, 1> mask{0b101};
  std::array<std::uint8_t, 3> out{};
  ASSERT_EQ((Outcome{3, 0, mask}).encode(out), 3u);
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[2], 0b101);
  EXPECT_EQ(Outcome::decode(out), (Outcome{3, 0, mask}));
  EXPECT_FALSE(Outcome::decode(std::span(out).first(2)));  // no mask
  for (const std::uint8_t code : std::initializer_list<std::uint8_t>{0, 4, 0xFF}) {
    out[0] = code;
    EXPECT_FALSE(Outcome::decode(out)) << int{code};
  }
}

TEST(SpoolFormat, MasksTakeTheBytesOfTheirHighestRecipient) {
  RecipientSet recipients;
  EXPECT_EQ(encode_mask(recipients).length, 1u);  // the empty set: one zero byte
  recipients[2] = recipients[9] = true;
  const MaskBytes mask = encode_mask(recipients);
  ASSERT_EQ(mask.length, 2u);
  EXPECT_EQ(mask.storage[0], 0b100);
  EXPECT_EQ(mask.storage[1], 0b10);
  EXPECT_EQ(decode_mask(mask.bytes()), recipients);
  const std::array<std::uint8_t, max_mask_bytes> beyond_this_build{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                                   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
  EXPECT_TRUE(decode_mask(beyond_this_build).none());  // recipient 255 is no recipient of a message here
}

TEST(SpoolFormat, AttemptLengthsMustAddUp) {
  const std::array<std::uint8_t, 1> mask{0b10};
  const Attempt attempt{2, 451, 1'700'000'120, mask, "4.3.0", "Try again later"};
  std::array<std::uint8_t, Attempt::max_bytes> out{};
  const std::size_t length = attempt.encode(out);
  ASSERT_EQ(length, 11u + 1 + 5 + 15);
  EXPECT_EQ(out[2] | out[3] << 8, 451);
  EXPECT_EQ(out[8], 1);
  EXPECT_EQ(out[9], 5);
  EXPECT_EQ(out[10], 15);
  EXPECT_EQ(out[11], 0b10);
  EXPECT_EQ(Attempt::decode(std::span(out).first(length)), attempt);
  EXPECT_FALSE(Attempt::decode(std::span(out).first(length - 1)));
  EXPECT_FALSE(Attempt::decode(std::span(out).first(length + 1)));
  out[8] = 0;  // a mask of no bytes
  EXPECT_FALSE(Attempt::decode(std::span(out).first(length - 1)));
  out[8] = 1;
  out[9] = 16;  // longer than an enhanced code can be
  EXPECT_FALSE(Attempt::decode(std::span(out).first(length + 11)));
}

TEST(SpoolFormat, FirstOutcomeOfARecipientIsFinal) {
  RecipientOutcomes outcomes;
  outcomes.record(RecipientSet(0b011), 1, 3);  // relayed: recipients 0 and 1
  outcomes.record(RecipientSet(0b110), 3, 3);  // deleted: only 2 is still owed
  EXPECT_EQ(outcomes.code(0), 1);
  EXPECT_EQ(outcomes.code(1), 1);
  EXPECT_EQ(outcomes.code(2), 3);
  EXPECT_TRUE(outcomes.all_done(3));
  EXPECT_FALSE(outcomes.all_done(4));
  RecipientOutcomes copy;
  copy.record(RecipientSet(0b1000), 2, 4);
  copy.keep_first(outcomes, 4);
  EXPECT_EQ(copy.bytes[0], outcomes.bytes[0] | 2 << 6);
  RecipientOutcomes beyond;
  beyond.record(RecipientSet(0b1000), 2, 3);  // recipient 3 does not exist
  EXPECT_EQ(beyond, RecipientOutcomes{});
}

TEST(SpoolFormatDeath, EncodingIntoTooShortASpanIsABug) {
  std::array<std::uint8_t, 15> short_span{};
  EXPECT_DEATH(RecordHeader{}.encode(short_span), "out.size\\(\\) >= bytes");
  const std::array<std::uint8_t, 1> mask{1};
  const Attempt attempt{1, 451, 0, mask, "", "x"};
  std::array<std::uint8_t, 12> no_room_for_the_text{};
  EXPECT_DEATH(attempt.encode(no_room_for_the_text), "assertion failed: fits");
}

}  // namespace
}  // namespace pigeon::spool_format
