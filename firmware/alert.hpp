// The alert API (docs/architecture.md §7): the firmware sends mail with one call. Alerts
// with the same key inside a window are coalesced: the first goes out at once,
// the rest are counted and one summary message ("occurred N times") follows
// when the window ends. A rate limit bounds the messages of all keys per
// window. A message is reported sent only once its spool commit is durable.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string_view>

#include "fixed_string.hpp"
#include "pigeon_limits.hpp"
#include "protocol/alert_message.hpp"

namespace pigeon {

// Values shared with pigeon.h: zero and above are success.
enum class AlertStatus : int {
  sent = 0,           // committed to the spool, durable
  coalesced = 1,      // counted; the window's summary message will say so
  rate_limited = 2,   // counted; reported in the key's next message
  header_injection = -1,
  bad_address = -2,
  bad_text = -3,
  too_long = -4,
  spool_full = -5,
  storage_error = -6,
  not_ready = -7,     // no alert service bound yet (C API)
  busy = -8,          // every key slot holds unsent occurrences, or every endpoint slot is taken: try again
};

// The alert API's answer for a composer refusal.
AlertStatus alert_status_from(protocol::AlertComposeStatus status);

// Where composed alerts go: the spool on a board, a fake in tests.
class AlertStore {
 public:
  // Stores one composed alert; the composer gets a unique message id.
  virtual AlertStatus store(protocol::AlertFields& fields) = 0;

 protected:
  ~AlertStore() = default;
};

struct AlertSettings {
  std::uint32_t window_s = 300;
  std::uint32_t max_per_window = 10;
};

class Alerts {
 public:
  Alerts(const AlertSettings& settings, AlertStore& store) : settings_(settings), store_(store) {}

  AlertStatus send(std::string_view to, std::string_view subject, std::string_view body, std::string_view key,
                   std::int64_t now_s);
  // Sends the summaries of windows that ended. Call from the main loop.
  void poll(std::int64_t now_s);

 private:
  struct KeySlot {
    FixedString<64> key;
    FixedString<254> to;
    FixedString<PIGEON_ALERT_MAX_SUBJECT_BYTES> subject;
    FixedString<PIGEON_ALERT_MAX_BODY_BYTES> body;
    // Far in the past, so that a new key's first alert finds its window closed.
    std::int64_t window_start_s = std::numeric_limits<std::int64_t>::min() / 2;
    std::int64_t first_unsent_s = 0;  // the earliest occurrence not yet in a message
    std::uint32_t unsent = 0;         // occurrences not yet in a message
    bool used = false;
  };

  KeySlot* slot_for(std::string_view key, std::int64_t now_s);
  KeySlot* reclaim_slot(std::int64_t now_s);
  AlertStatus emit(KeySlot& slot, std::int64_t now_s);
  bool rate_allows(std::int64_t now_s);

  AlertSettings settings_;
  AlertStore& store_;
  std::array<KeySlot, PIGEON_ALERT_KEYS> slots_{};
  std::int64_t rate_window_start_s_ = 0;
  std::uint32_t sent_in_rate_window_ = 0;
};

// What pigeon_alert_send() (pigeon.h) calls; the board binds it at start.
void bind_c_alert_api(Alerts* alerts, std::int64_t (*wall_clock_s)());

}  // namespace pigeon
