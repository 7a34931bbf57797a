// Test helpers for the spool: a RAM flash of any geometry, a mailbox directory,
// and message writing and reading in one call each. Tests may allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "firmware/spool.hpp"
#include "hal/sim/ram_flash.hpp"

namespace pigeon::testing {

// Mailboxes "alice" (0) and "bob" (1).
class TwoMailboxes final : public MailboxDirectory {
 public:
  std::optional<std::uint8_t> mailbox_number(std::string_view name) const override {
    if (name == "alice") return 0;
    if (name == "bob") return 1;
    return std::nullopt;
  }
};

// A chip: storage that outlives every Spool mounted on it.
class SimulatedChip {
 public:
  explicit SimulatedChip(const hal::FlashGeometry& geometry)
      : storage_(geometry.total_bytes()),
        units_(geometry.total_bytes() / geometry.program_unit_bytes),
        flash_(geometry, storage_, units_) {}
  hal::RamFlash& flash() { return flash_; }
  std::vector<std::uint8_t>& bytes() { return storage_; }

 private:
  std::vector<std::uint8_t> storage_;
  std::vector<std::uint8_t> units_;
  hal::RamFlash flash_;
};

inline const TwoMailboxes& mailboxes() {
  static const TwoMailboxes directory;
  return directory;
}

inline std::unique_ptr<Spool> make_spool(hal::Flash& flash) { return std::make_unique<Spool>(flash, mailboxes()); }

// A spool mounted on a chip of the test's geometry, and mounted again on the
// same bytes at remount(), as after a restart.
class MountedSpoolTest : public ::testing::TestWithParam<hal::FlashGeometry> {
 protected:
  SimulatedChip chip{GetParam()};
  std::unique_ptr<Spool> spool = make_spool(chip.flash());

  void SetUp() override { ASSERT_EQ(spool->mount(), SpoolStatus::ok); }
  void remount() {
    spool = make_spool(chip.flash());
    ASSERT_EQ(spool->mount(), SpoolStatus::ok);
  }
};

// A deterministic body of `bytes` bytes, different for every seed.
inline std::string make_body(std::uint32_t seed, std::size_t bytes) {
  std::string body(bytes, '\0');
  std::uint32_t state = seed * 2654435761u + 12345u;
  for (char& c : body) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  return body;
}

struct Outcome {
  SpoolStatus status = SpoolStatus::ok;
  MessageId id = 0;
};

// Opens, appends in pieces of `piece` bytes, commits and syncs.
inline Outcome store_message(Spool& spool, const SpoolEnvelope& envelope, std::string_view body,
                             std::size_t piece = 700) {
  SpoolWriter writer;
  Outcome outcome;
  outcome.status = spool.open_message(envelope, writer);
  if (outcome.status != SpoolStatus::ok) return outcome;
  outcome.id = writer.message_id();
  for (std::size_t at = 0; at < body.size(); at += piece) {
    const std::string_view part = body.substr(at, piece);
    outcome.status = spool.append(writer, {reinterpret_cast<const std::uint8_t*>(part.data()), part.size()});
    if (outcome.status != SpoolStatus::ok) {
      spool.discard(writer);
      return outcome;
    }
  }
  outcome.status = spool.commit(writer);
  if (outcome.status == SpoolStatus::ok) outcome.status = spool.sync();
  return outcome;
}

// Stores messages of `bytes` bytes from "sensor@lan.example" until the spool
// refuses one; the ids of those it took.
inline std::vector<MessageId> fill_spool(Spool& spool, std::span<const SpoolRecipient> recipients, std::size_t bytes) {
  std::vector<MessageId> stored;
  for (std::uint32_t i = 0;; ++i) {
    const Outcome outcome = store_message(spool, {"sensor@lan.example", recipients, false}, make_body(i, bytes));
    if (outcome.status != SpoolStatus::ok) return stored;
    stored.push_back(outcome.id);
  }
}

// The whole message as the spool returns it, in reads of `chunk` bytes;
// "<unreadable>" after the bytes read when a read fails.
inline std::string read_message(Spool& spool, MessageId id, std::size_t chunk = 333) {
  std::string out;
  std::vector<std::uint8_t> buffer(chunk);
  for (;;) {
    const std::optional<std::size_t> got = spool.read(id, static_cast<std::uint32_t>(out.size()), buffer);
    if (!got) return out + "<unreadable>";
    if (*got == 0) return out;
    out.append(reinterpret_cast<const char*>(buffer.data()), *got);
  }
}

// Rewrites every valid sector header on `chip` as version 5 or 6 wrote it
// (docs/spool-format.md §2.1): the spool of a relay before an upgrade.
inline void rewrite_headers_as_version(SimulatedChip& chip, std::uint16_t version) {
  const hal::FlashGeometry geometry = chip.flash().geometry();
  for (std::uint32_t s = 0; s < geometry.sector_count; ++s) {
    const auto bytes = std::span(chip.bytes()).subspan(s * geometry.sector_size_bytes, spool_format::SectorHeader::bytes);
    auto header = spool_format::SectorHeader::decode(bytes);
    if (!header) continue;
    header->version = version;
    header->uid_validity = spool_format::unversioned_uid_validity;
    header->encode(bytes);
  }
}

// Names parameterised tests "4KiB_unit16".
inline std::string geometry_name(const ::testing::TestParamInfo<hal::FlashGeometry>& geometry) {
  return std::to_string(geometry.param.sector_size_bytes / 1024) + "KiB_unit" +
         std::to_string(geometry.param.program_unit_bytes);
}

inline const SpoolRecipient alice{"alice@home.example", "alice"};
inline const SpoolRecipient bob{"bob@home.example", "bob"};
inline const SpoolRecipient remote{"carol@far.example", ""};
inline const SpoolRecipient remote2{"dave@far.example", ""};

}  // namespace pigeon::testing
