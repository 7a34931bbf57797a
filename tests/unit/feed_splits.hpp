// Test support: drives a sans-I/O engine with the same input cut into pieces in
// different ways (whole, byte by byte, random splits from a fixed seed) and
// checks that every way gives the same result (docs/architecture.md §8).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/output_buffer.hpp"

namespace pigeon::testing {

inline std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

inline std::string_view text_of(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// One way of cutting an input into the pieces a network might deliver.
class SplitPlan {
 public:
  enum class Kind { whole, bytewise, random };

  static SplitPlan whole() { return SplitPlan(Kind::whole, 0); }
  static SplitPlan bytewise() { return SplitPlan(Kind::bytewise, 0); }
  static SplitPlan random(unsigned seed) { return SplitPlan(Kind::random, seed); }

  // Piece sizes that add up to `length`; a random plan gives the same sizes
  // for the same length every time.
  std::vector<std::size_t> pieces_for(std::size_t length) const {
    if (kind_ == Kind::whole) return {length};
    if (kind_ == Kind::bytewise) return std::vector<std::size_t>(length, 1);
    std::mt19937 random(seed_);
    std::vector<std::size_t> pieces;
    for (std::size_t left = length; left > 0;) {
      // Mostly short pieces, sometimes long ones, so that cuts land everywhere.
      const std::size_t limit = random() % 4 == 0 ? 200 : 9;
      const std::size_t piece = std::min<std::size_t>(left, 1 + random() % limit);
      pieces.push_back(piece);
      left -= piece;
    }
    return pieces;
  }

  friend std::ostream& operator<<(std::ostream& os, const SplitPlan& plan) {
    switch (plan.kind_) {
      case Kind::whole: return os << "whole";
      case Kind::bytewise: return os << "byte by byte";
      case Kind::random: return os << "random split, seed " << plan.seed_;
    }
    return os;
  }

 private:
  SplitPlan(Kind kind, unsigned seed) : kind_(kind), seed_(seed) {}
  Kind kind_;
  unsigned seed_;
};

// Runs `scenario(plan)` whole, byte by byte and in `random_splits` random
// splits, expects every result to equal the whole run's, and returns that.
template <class Scenario>
auto same_result_for_every_split(Scenario scenario, int random_splits = 12) {
  const auto expected = scenario(SplitPlan::whole());
  EXPECT_EQ(scenario(SplitPlan::bytewise()), expected) << "byte by byte";
  for (int round = 0; round < random_splits; ++round) {
    const SplitPlan plan = SplitPlan::random(1000u + static_cast<unsigned>(round));
    EXPECT_EQ(scenario(plan), expected) << plan;
  }
  return expected;
}

// Plays a connection's receive buffer: bytes the engine did not consume stay
// and are offered again, in front of the next piece.
class ReceiveBuffer {
 public:
  // `feed(bytes) -> consumed` is called until it takes nothing more.
  template <class Feed>
  void deliver(std::string_view input, const SplitPlan& plan, Feed feed) {
    std::size_t offset = 0;
    for (const std::size_t piece : plan.pieces_for(input.size())) {
      pending_.append(input.substr(offset, piece));
      offset += piece;
      offer(feed);
    }
  }

  template <class Feed>
  void offer(Feed feed) {
    while (!pending_.empty()) {
      const std::size_t consumed = feed(bytes_of(pending_));
      if (consumed == 0) break;
      pending_.erase(0, consumed);
    }
  }

  // What the engine left unread (the connection drops it at a TLS handshake).
  std::string take_unconsumed() { return std::exchange(pending_, {}); }

 private:
  std::string pending_;
};

// What a session did, in the two orders that do not depend on how the input
// was cut: the bytes it sent, and the policy calls it made.
struct Transcript {
  std::string output;
  std::vector<std::string> calls;

  bool operator==(const Transcript&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const Transcript& t) {
    os << "output:\n" << t.output << "calls:\n";
    for (const auto& call : t.calls) os << "  " << call << "\n";
    return os;
  }
};

// The client side of an engine's test session: input cut by a plan and fed
// with the engine's pending decisions settled before and after, the
// STARTTLS/STLS hand-over, and the transcript. `Session` derives from it and
// provides server(), calls() and settle(), which answers what is pending and
// appends what the engine wrote to output_.
template <class Session>
class EngineClient {
 public:
  void send(std::string_view input, const SplitPlan& plan) {
    receive_.deliver(input, plan, [&](std::span<const std::uint8_t> bytes) {
      session().settle();
      const std::size_t consumed = session().server().feed(bytes);
      session().settle();
      return consumed;
    });
  }

  // Runs the handshake the engine asked for; returns what the client had
  // pipelined behind its STARTTLS/STLS, which the connection throws away.
  std::string handshake() {
    EXPECT_TRUE(session().server().awaiting_tls());
    session().calls().emplace_back("<tls handshake>");
    session().server().tls_started();
    return receive_.take_unconsumed();
  }

  std::string unconsumed() { return receive_.take_unconsumed(); }

  Transcript transcript() {
    session().settle();
    return {output_, session().calls()};
  }

 protected:
  std::string output_;

 private:
  Session& session() { return static_cast<Session&>(*this); }

  ReceiveBuffer receive_;
};

// The client of a mailbox engine that streams messages (POP3, IMAP): its
// settle() answers what is pending with the Session's resumed_decision() and
// reads replies `read_step_bytes` at a time (0: all at once) until the engine
// has nothing more to say, so long responses stream through a full output
// buffer. The Session builds its engine on out_.
template <class Session>
class StreamingClient : public EngineClient<Session> {
 public:
  void settle() {
    auto& server = static_cast<Session&>(*this).server();
    for (;;) {
      if (server.awaiting_decision()) server.resume(static_cast<Session&>(*this).resumed_decision());
      read_some();
      if (server.streaming()) {
        server.pump();
      } else if (out_.empty()) {
        return;
      }
    }
  }

 protected:
  explicit StreamingClient(std::size_t read_step_bytes) : read_step_bytes_(read_step_bytes) {}

  std::array<std::uint8_t, 1024> storage_{};
  protocol::OutputBuffer out_{storage_};

 private:
  void read_some() {
    const std::size_t count = read_step_bytes_ == 0 ? out_.size() : std::min(read_step_bytes_, out_.size());
    this->output_.append(text_of(out_.pending().first(count)));
    out_.consume(count);
  }

  std::size_t read_step_bytes_;
};

// Records message bytes as one call however many pieces they came in.
inline void record_data(std::vector<std::string>& calls, std::string_view bytes) {
  constexpr std::string_view tag = "data ";
  if (calls.empty() || !std::string_view(calls.back()).starts_with(tag)) calls.emplace_back(tag);
  calls.back().append(bytes);
}

}  // namespace pigeon::testing
