// The spool's UIDVALIDITY (docs/spool-format.md §2.1): chosen when the spool
// is formatted, carried by every sector header from then on, read back at
// mount; 1 for a spool of version 5 or 6, which is what IMAP told clients then.
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "firmware/spool_format.hpp"
#include "tests/spool/spool_fixture.hpp"

namespace pigeon::testing {
namespace {

using spool_format::SectorHeader;

constexpr hal::FlashGeometry small_flash{4096, 8, 16};
constexpr std::uint32_t first_value = 1765000000;   // a clock value (December 2025)
constexpr std::uint32_t second_value = 1765000100;

const SpoolRecipient to_alice[] = {alice};

std::span<std::uint8_t> header_bytes(SimulatedChip& chip, std::uint32_t sector) {
  return std::span(chip.bytes()).subspan(sector * small_flash.sector_size_bytes, SectorHeader::bytes);
}

// Every sector header on the chip that decodes, whether in the log or not.
std::vector<SectorHeader> valid_headers(SimulatedChip& chip) {
  std::vector<SectorHeader> headers;
  for (std::uint32_t s = 0; s < small_flash.sector_count; ++s) {
    if (const auto header = SectorHeader::decode(header_bytes(chip, s))) headers.push_back(*header);
  }
  return headers;
}

std::set<std::uint32_t> values_on_flash(SimulatedChip& chip) {
  std::set<std::uint32_t> values;
  for (const SectorHeader& header : valid_headers(chip)) values.insert(header.uid_validity);
  return values;
}

// Stores messages to alice and deletes each at once, so that the head goes
// round the ring and erases every sector at least once.
void go_round_the_ring(Spool& spool, SimulatedChip& chip) {
  for (std::uint32_t i = 0; i < 40; ++i) {
    const Outcome stored = store_message(spool, {"sensor@lan.example", to_alice, false}, make_body(i, 1500));
    ASSERT_EQ(stored.status, SpoolStatus::ok) << i;
    ASSERT_EQ(spool.mark_deleted(stored.id, "alice"), SpoolStatus::ok);
  }
  ASSERT_GT(chip.flash().counts(0).erases, 0u) << "the ring went round";
}

TEST(SpoolUidValidity, AFreshFormatTakesTheGivenValue) {
  SimulatedChip chip(small_flash);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(first_value), SpoolStatus::ok);
  EXPECT_EQ(spool->uid_validity(), first_value);
  const auto header = SectorHeader::decode(header_bytes(chip, 0));
  ASSERT_TRUE(header);
  EXPECT_EQ(header->version, spool_format::format_version);
  EXPECT_EQ(header->uid_validity, first_value);
}

TEST(SpoolUidValidity, ARemountKeepsItAndIgnoresTheValueForAFormat) {
  SimulatedChip chip(small_flash);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(first_value), SpoolStatus::ok);
  ASSERT_EQ(store_message(*spool, {"sensor@lan.example", to_alice, false}, make_body(1, 5000)).status,
            SpoolStatus::ok);
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(second_value), SpoolStatus::ok);
  EXPECT_EQ(spool->uid_validity(), first_value);
  EXPECT_EQ(values_on_flash(chip), std::set<std::uint32_t>{first_value}) << "the second sector carries it on";
}

TEST(SpoolUidValidity, AReclaimThatErasesTheFirstSectorKeepsIt) {
  SimulatedChip chip(small_flash);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(first_value), SpoolStatus::ok);
  go_round_the_ring(*spool, chip);
  EXPECT_EQ(spool->uid_validity(), first_value);
  EXPECT_EQ(values_on_flash(chip), std::set<std::uint32_t>{first_value});
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(second_value), SpoolStatus::ok);
  EXPECT_EQ(spool->uid_validity(), first_value);
}

TEST(SpoolUidValidity, AVersion6SpoolMountsWithOneAndItsNewSectorsCarryOne) {
  SimulatedChip chip(small_flash);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(first_value), SpoolStatus::ok);
  const Outcome kept = store_message(*spool, {"sensor@lan.example", to_alice, false}, make_body(7, 6000));
  ASSERT_EQ(kept.status, SpoolStatus::ok);
  rewrite_headers_as_version(chip, 6);

  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(second_value), SpoolStatus::ok);
  EXPECT_EQ(spool->uid_validity(), 1u) << "what the clients were told before the upgrade";
  EXPECT_EQ(read_message(*spool, kept.id), make_body(7, 6000));
  // One new sector beside the old ones: a mixed log, mounted again.
  const Outcome opener = store_message(*spool, {"sensor@lan.example", to_alice, false}, make_body(8, 3000));
  ASSERT_EQ(opener.status, SpoolStatus::ok);
  ASSERT_EQ(spool->mark_deleted(opener.id, "alice"), SpoolStatus::ok);
  std::set<std::uint16_t> versions;
  for (const SectorHeader& header : valid_headers(chip)) versions.insert(header.version);
  EXPECT_EQ(versions, (std::set<std::uint16_t>{6, spool_format::format_version}));
  EXPECT_EQ(values_on_flash(chip), std::set<std::uint32_t>{1});
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(second_value), SpoolStatus::ok);
  EXPECT_EQ(spool->uid_validity(), 1u);
  go_round_the_ring(*spool, chip);
  EXPECT_EQ(values_on_flash(chip), std::set<std::uint32_t>{1});
  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(second_value), SpoolStatus::ok);
  EXPECT_EQ(spool->uid_validity(), 1u);
  EXPECT_EQ(read_message(*spool, kept.id), make_body(7, 6000));
}

TEST(SpoolUidValidity, ASpoolWhoseSectorsAreAllUnreadableIsFormattedWithTheNewValue) {
  SimulatedChip chip(small_flash);
  auto spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(first_value), SpoolStatus::ok);
  for (std::uint32_t i = 0; i < 4; ++i) {
    ASSERT_EQ(store_message(*spool, {"sensor@lan.example", to_alice, false}, make_body(i, 3000)).status,
              SpoolStatus::ok);
  }
  ASSERT_GT(valid_headers(chip).size(), 1u);
  for (std::uint32_t s = 0; s < small_flash.sector_count; ++s) header_bytes(chip, s)[9] ^= 0x10;  // the sequence
  ASSERT_TRUE(valid_headers(chip).empty());

  spool = make_spool(chip.flash());
  ASSERT_EQ(spool->mount(second_value), SpoolStatus::ok);
  EXPECT_EQ(spool->uid_validity(), second_value);
  go_round_the_ring(*spool, chip);
  EXPECT_EQ(values_on_flash(chip), std::set<std::uint32_t>{second_value});
}

// A cut anywhere in the format and the first sectors after it: whatever the
// next mount finds, it and every sector header on flash agree on one value,
// the format's (first_value) or, when the format's header never became
// valid, the next mount's (second_value).
TEST(SpoolUidValidityPowerLoss, ACutDuringFormatLeavesOneValue) {
  std::uint64_t operations = 0;
  {
    SimulatedChip chip(small_flash);
    std::fill(chip.bytes().begin(), chip.bytes().end(), 0x5A);  // old garbage: the format erases sector 0
    auto spool = make_spool(chip.flash());
    ASSERT_EQ(spool->mount(first_value), SpoolStatus::ok);
    for (std::uint32_t i = 0; i < 2; ++i) store_message(*spool, {"sensor@lan.example", to_alice, false}, make_body(i, 3000));
    operations = chip.flash().operations();
  }
  ASSERT_GT(operations, 6u);
  std::set<std::uint32_t> outcomes;
  for (std::uint64_t cut = 0; cut < operations; ++cut) {
    for (const bool tear : {false, true}) {
      SCOPED_TRACE("cut " + std::to_string(cut) + (tear ? " torn" : ""));
      SimulatedChip chip(small_flash);
      std::fill(chip.bytes().begin(), chip.bytes().end(), 0x5A);
      chip.flash().cut_power_after(cut, tear, static_cast<std::uint32_t>(cut));
      auto spool = make_spool(chip.flash());
      if (spool->mount(first_value) == SpoolStatus::ok) {
        for (std::uint32_t i = 0; i < 2; ++i) {
          store_message(*spool, {"sensor@lan.example", to_alice, false}, make_body(i, 3000));
        }
      }
      ASSERT_TRUE(chip.flash().power_lost());
      chip.flash().restore_power();

      spool = make_spool(chip.flash());
      ASSERT_EQ(spool->mount(second_value), SpoolStatus::ok);
      const std::uint32_t mounted = spool->uid_validity();
      EXPECT_TRUE(mounted == first_value || mounted == second_value) << mounted;
      outcomes.insert(mounted);
      go_round_the_ring(*spool, chip);
      EXPECT_EQ(values_on_flash(chip), std::set<std::uint32_t>{mounted});
    }
  }
  EXPECT_EQ(outcomes, (std::set<std::uint32_t>{first_value, second_value})) << "cuts before and after the header";
}

TEST(SpoolUidValidityAtFormat, IsTheClockWhenItIsKnown) {
  EXPECT_EQ(spool_format::uid_validity_at_format(1765000000, 12345), 1765000000u);
  EXPECT_EQ(spool_format::uid_validity_at_format(spool_format::uid_validity_clock_floor_s, 0),
            spool_format::uid_validity_clock_floor_s);
  EXPECT_EQ(spool_format::uid_validity_at_format(0xFFFFFFFF, 0), 0xFFFFFFFFu);
}

TEST(SpoolUidValidityAtFormat, IsRandomBelowEveryClockValueWithoutTheClock) {
  std::set<std::uint32_t> values;
  // 0: not known; below the floor: a clock that is wrong (a board's RTC at
  // 2000-01-01); past 2106: not a 32-bit value.
  for (const std::int64_t clock_s : {std::int64_t{0}, std::int64_t{-5}, std::int64_t{946684800},
                                     std::int64_t{spool_format::uid_validity_clock_floor_s} - 1,
                                     std::int64_t{0x100000000}}) {
    for (const std::uint32_t random_bits : {0u, 1u, 0x3FFFFFFDu, 0x3FFFFFFEu, 0xFFFFFFFFu, 0x9E3779B9u}) {
      const std::uint32_t value = spool_format::uid_validity_at_format(clock_s, random_bits);
      EXPECT_GT(value, spool_format::unversioned_uid_validity) << clock_s << " " << random_bits;
      EXPECT_LT(value, spool_format::uid_validity_clock_floor_s) << clock_s << " " << random_bits;
      if (clock_s == 0) values.insert(value);
    }
  }
  EXPECT_EQ(values.size(), 5u) << "0x3FFFFFFE wraps to what 0 gives; the others differ";
}

}  // namespace
}  // namespace pigeon::testing
