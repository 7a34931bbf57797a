// Shared by the libFuzzer targets: a tape of choices taken from the fuzzer's
// input, a small strict Base64 for the SASL paths, and the receive-buffer
// driver that feeds an engine the same bytes cut in different ways.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/assert.hpp"
#include "protocol/base64.hpp"

// PIGEON_ASSERT's handler for the fuzz targets (each includes this header once):
// a failed invariant is a crash that libFuzzer reports and keeps as an input.
void pigeon::assert_failed(const char* condition, const char* file, int line) noexcept {
  std::fprintf(stderr, "pigeon: assertion failed: %s (%s:%d)\n", condition, file, line);
  std::abort();
}

namespace pigeon::fuzz {

// The input's first byte says how many following bytes are choices (for
// settings, policy answers, piece sizes); the rest is what the peer sends.
// Choices repeat cyclically, so any input, even an empty one, is usable.
class Tape {
 public:
  explicit Tape(std::span<const std::uint8_t> data) {
    if (data.empty()) return;
    const std::size_t count = std::min<std::size_t>(data[0] % 32, data.size() - 1);
    choices_ = data.subspan(1, count);
    session_ = data.subspan(1 + count);
  }

  std::span<const std::uint8_t> session() const { return session_; }
  // The choice at `index` (cyclic); 0 when there are none.
  std::uint8_t at(std::size_t index) const { return choices_.empty() ? 0 : choices_[index % choices_.size()]; }

 private:
  std::span<const std::uint8_t> choices_;
  std::span<const std::uint8_t> session_;
};

// Piece sizes 1..16 for the split run, from the tape, independent of the
// engine's behaviour so that both runs see the same bytes.
inline std::vector<std::size_t> piece_sizes(const Tape& tape, std::size_t length) {
  std::vector<std::size_t> pieces;
  for (std::size_t left = length, i = 0; left > 0; ++i) {
    const std::size_t piece = std::min<std::size_t>(left, 1 + (tape.at(i + 7) % 16));
    pieces.push_back(piece);
    left -= piece;
  }
  return pieces;
}

// Feeds pieces through a receive buffer that keeps what the engine did not
// consume. `feed(bytes) -> consumed` must settle the engine (answer pending
// decisions, read output) itself; delivery stops when `done()`.
template <class Feed, class Done>
void deliver(std::span<const std::uint8_t> input, const std::vector<std::size_t>& pieces, Feed feed, Done done) {
  std::string pending;
  std::size_t offset = 0;
  for (const std::size_t piece : pieces) {
    pending.append(reinterpret_cast<const char*>(input.data()) + offset, piece);
    offset += piece;
    while (!pending.empty() && !done()) {
      const std::size_t consumed =
          feed(std::span(reinterpret_cast<const std::uint8_t*>(pending.data()), pending.size()));
      if (consumed > pending.size()) std::abort();
      if (consumed == 0) break;
      pending.erase(0, consumed);
    }
  }
}

// RFC 4648 Base64 with padding; rejects anything else, as the real codec does.
class StrictBase64 final : public protocol::Base64 {
 public:
  std::optional<std::size_t> decode(std::string_view text, std::span<std::uint8_t> out) const override {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t length = 0;
    for (std::size_t i = 0; i < text.size(); i += 4) {
      std::uint32_t group = 0;
      int padding = 0;
      for (std::size_t j = 0; j < 4; ++j) {
        const int value = sextet(text[i + j]);
        const bool last_group = i + 4 == text.size();
        if (text[i + j] == '=' && last_group && j >= 2) {
          ++padding;
        } else if (value < 0 || padding > 0) {
          return std::nullopt;
        }
        group = group << 6 | static_cast<std::uint32_t>(value < 0 ? 0 : value);
      }
      const std::size_t bytes = 3 - static_cast<std::size_t>(padding);
      if (length + bytes > out.size()) return std::nullopt;
      for (std::size_t k = 0; k < bytes; ++k) out[length++] = static_cast<std::uint8_t>(group >> (16 - 8 * k));
    }
    return length;
  }

  std::optional<std::size_t> encode(std::span<const std::uint8_t> bytes, std::span<char> out) const override {
    static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::size_t length = (bytes.size() + 2) / 3 * 4;
    if (length > out.size()) return std::nullopt;
    for (std::size_t i = 0, o = 0; i < bytes.size(); i += 3, o += 4) {
      const std::size_t have = std::min<std::size_t>(3, bytes.size() - i);
      std::uint32_t group = 0;
      for (std::size_t k = 0; k < 3; ++k) group = group << 8 | (k < have ? bytes[i + k] : 0u);
      for (std::size_t k = 0; k < 4; ++k) out[o + k] = k <= have ? alphabet[(group >> (18 - 6 * k)) & 63] : '=';
    }
    return length;
  }

 private:
  static int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  }
};

// A policy's decisions, the n-th chosen by the tape, so both runs of a
// session get the same answers whatever the piece sizes were: `answer(choice)`
// gives an immediate answer, and one choice in four is later(), resumed with
// another answer.
template <class Decision>
class TapeDecisions {
 public:
  using Answer = Decision (*)(std::uint8_t choice);
  TapeDecisions(const Tape& tape, Answer answer) : tape_(tape), answer_(answer) {}

  Decision next() {
    const std::uint8_t choice = tape_.at(count_++ + 11);
    resumed_ = answer_(static_cast<std::uint8_t>(choice >> 2));
    return (choice & 3) == 3 ? Decision::later() : answer_(choice);
  }
  Decision resumed() const { return resumed_; }

 private:
  const Tape& tape_;
  Answer answer_;
  std::size_t count_ = 0;
  Decision resumed_;
};

// What one run of a session did: the bytes it sent and the calls it made.
struct Outcome {
  std::string output;
  std::vector<std::string> calls;
  bool operator==(const Outcome&) const = default;
};

// Stops the run loudly: libFuzzer records the input as a crash.
inline void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace pigeon::fuzz
