// Shared by the libFuzzer targets: a tape of choices taken from the fuzzer's
// input, and the receive-buffer driver that feeds an engine the same bytes cut in different ways.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "protocol/assert.hpp"
#include "protocol/output_buffer.hpp"

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

// Plays the tape's session to an engine through deliver(): `settle()` after
// every feed() call, until the engine is finished() or the input is used up.
template <class Engine, class Settle>
void play(const Tape& tape, const std::vector<std::size_t>& pieces, Engine& engine, Settle settle) {
  deliver(
      tape.session(), pieces,
      [&](std::span<const std::uint8_t> bytes) {
        const std::size_t consumed = engine.feed(bytes);
        settle();
        return consumed;
      },
      [&] { return engine.finished(); });
}

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

// Stops the run loudly, naming the broken invariant's line: libFuzzer records
// the input as a crash.
// (clang-14's libstdc++ has no std::source_location; the builtins it rests on
// give the caller's place the same way.)
inline void require(bool condition, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  if (condition) return;
  std::fprintf(stderr, "pigeon fuzz: invariant broken at %s:%d\n", file, line);
  std::abort();
}

// Runs the session fed whole and in the tape's pieces: `run(tape, pieces)`
// must give the same Outcome both times.
// The settle() of a mailbox engine that streams messages (POP3, IMAP):
// answers its pending decision and TLS hand-over and reads its output
// `read_step_bytes` at a time (0: all at once) until it waits for input.
template <class Engine, class Policy, class Output>
void settle_streaming(Engine& engine, Policy& policy, Output& out, std::string& sent, std::size_t read_step_bytes) {
  for (int rounds = 0;; ++rounds) {
    require(rounds < 1'000'000);  // streaming must make progress
    if (engine.awaiting_decision()) {
      engine.resume(policy.resumed());
      // An answer may lead to the next decision (an IMAP MOVE commits batch
      // after batch): it is answered in the next round; one never taken
      // runs into the bound on rounds.
      if (engine.awaiting_decision()) continue;
    }
    if (engine.awaiting_tls()) engine.tls_started();
    const std::size_t count = read_step_bytes == 0 ? out.size() : std::min(read_step_bytes, out.size());
    sent.append(reinterpret_cast<const char*>(out.pending().data()), count);
    out.consume(count);
    if (engine.streaming()) {
      engine.pump();
    } else if (out.empty()) {
      // An idling IMAP session hears of changes whenever the loop runs
      // (ImapSession::produce), so also of those its output had no room for.
      if constexpr (requires { engine.store_changed(); }) {
        if (engine.idling()) engine.store_changed();
      }
      if (out.empty()) return;
    }
  }
}

// One whole session of a mailbox engine (POP3, IMAP) over `policy`: the
// greeting, the tape's session cut in `pieces`, a timeout if the client did not
// end it, each step settled as above. Returns everything the engine sent.
template <class Engine, class Policy, class Settings>
std::string run_streaming_session(Policy& policy, const Settings& settings, const Tape& tape,
                                  const std::vector<std::size_t>& pieces, std::size_t read_step_bytes) {
  std::array<std::uint8_t, 1024> storage{};
  protocol::OutputBuffer out(storage);
  Engine server(policy, out, settings);
  std::string sent;
  auto settle = [&] { settle_streaming(server, policy, out, sent, read_step_bytes); };
  server.start();
  settle();
  play(tape, pieces, server, settle);
  if (!server.finished()) server.abort_session("Timeout");
  settle();
  require(server.finished());
  return sent;
}

// A `run(tape, pieces, read_step_bytes)` of a mailbox engine also reads the
// output whole in the whole run and a few bytes at a time in the split one.
template <class Run>
void require_same_outcome_whole_and_split(const Tape& tape, Run run) {
  const std::vector<std::size_t> whole{tape.session().size()};
  const std::vector<std::size_t> split = piece_sizes(tape, tape.session().size());
  if constexpr (std::is_invocable_v<Run, const Tape&, const std::vector<std::size_t>&, std::size_t>) {
    require(run(tape, whole, 0) == run(tape, split, 1 + tape.at(5) % 24));
  } else {
    require(run(tape, whole) == run(tape, split));
  }
}

}  // namespace pigeon::fuzz

// The libFuzzer entry point of an engine's target: the session of `run(tape,
// pieces[, read_step_bytes])` fed whole and in the tape's pieces gives the same Outcome.
#define PIGEON_FUZZ_WHOLE_AND_SPLIT(run)                                                          \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {             \
    ::pigeon::fuzz::require_same_outcome_whole_and_split(::pigeon::fuzz::Tape({data, size}), run); \
    return 0;                                                                                     \
  }
