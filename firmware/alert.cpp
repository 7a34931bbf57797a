#include "alert.hpp"

#include "pigeon.h"

namespace pigeon {
namespace {

bool is_failure(AlertStatus status) { return static_cast<int>(status) < 0; }

static_assert(static_cast<int>(AlertStatus::coalesced) == PIGEON_ALERT_COALESCED);
static_assert(static_cast<int>(AlertStatus::rate_limited) == PIGEON_ALERT_RATE_LIMITED);
static_assert(static_cast<int>(AlertStatus::spool_full) == PIGEON_ALERT_SPOOL_FULL);
static_assert(static_cast<int>(AlertStatus::not_ready) == PIGEON_ALERT_NOT_READY);
static_assert(static_cast<int>(AlertStatus::busy) == PIGEON_ALERT_BUSY);

}  // namespace

AlertStatus alert_status_from(protocol::AlertComposeStatus status) {
  switch (status) {
    case protocol::AlertComposeStatus::ok: return AlertStatus::sent;
    case protocol::AlertComposeStatus::header_injection: return AlertStatus::header_injection;
    case protocol::AlertComposeStatus::bad_address: return AlertStatus::bad_address;
    case protocol::AlertComposeStatus::bad_text: return AlertStatus::bad_text;
    case protocol::AlertComposeStatus::too_long: return AlertStatus::too_long;
  }
  return AlertStatus::bad_text;
}

AlertStatus Alerts::send(std::string_view to, std::string_view subject, std::string_view body, std::string_view key,
                         std::int64_t now_s) {
  const auto content = protocol::check_alert_content(to, subject, body);
  if (content != protocol::AlertComposeStatus::ok) return alert_status_from(content);
  if (key.size() > decltype(KeySlot::key)::capacity()) return AlertStatus::too_long;
  KeySlot* slot = slot_for(key, now_s);
  if (slot == nullptr) return AlertStatus::busy;
  if (!slot->to.assign(to) || !slot->subject.assign(subject) || !slot->body.assign(body)) {
    return AlertStatus::too_long;
  }
  if (slot->unsent++ == 0) slot->first_unsent_s = now_s;
  if (slot->window_start_s + settings_.window_s > now_s) return AlertStatus::coalesced;
  slot->window_start_s = now_s;
  const AlertStatus status = emit(*slot, now_s);
  // A refused store leaves no trace of this occurrence: the caller was told.
  if (is_failure(status)) --slot->unsent;
  return status;
}

void Alerts::poll(std::int64_t now_s) {
  for (KeySlot& slot : slots_) {
    if (!slot.used || slot.window_start_s + settings_.window_s > now_s) continue;
    if (slot.unsent == 0) {
      slot = {};  // the window closed quietly; free the key
      continue;
    }
    slot.window_start_s = now_s;
    emit(slot, now_s);
  }
}

Alerts::KeySlot* Alerts::slot_for(std::string_view key, std::int64_t now_s) {
  KeySlot* free = nullptr;
  for (KeySlot& slot : slots_) {
    if (slot.used && slot.key.view() == key) return &slot;
    if (!slot.used && free == nullptr) free = &slot;
  }
  if (free == nullptr) free = reclaim_slot(now_s);
  if (free == nullptr) return nullptr;
  free->key.assign(key);
  free->used = true;
  return free;
}

// Every key is in use: windows that ended free theirs first. Otherwise the key
// whose window began first gives its slot up, so that a few junk keys cannot
// keep real alerts out for a whole window; what it has not reported yet goes
// out now in its summary. When the rate limit or the spool refuses that
// summary the slot is kept, and the caller hears busy.
Alerts::KeySlot* Alerts::reclaim_slot(std::int64_t now_s) {
  poll(now_s);
  KeySlot* oldest = nullptr;
  for (KeySlot& slot : slots_) {
    if (!slot.used) return &slot;
    if (oldest == nullptr || slot.window_start_s < oldest->window_start_s) oldest = &slot;
  }
  if (oldest->unsent > 0 && emit(*oldest, now_s) != AlertStatus::sent) return nullptr;
  *oldest = {};
  return oldest;
}

AlertStatus Alerts::emit(KeySlot& slot, std::int64_t now_s) {
  if (!rate_allows(now_s)) return AlertStatus::rate_limited;
  protocol::AlertFields fields;
  fields.to = slot.to.view();
  fields.subject = slot.subject.view();
  fields.body = slot.body.view();
  fields.occurrences = slot.unsent;
  fields.first_unix_time_s = slot.first_unsent_s;
  fields.unix_time_s = now_s;
  const AlertStatus status = store_.store(fields);
  if (status == AlertStatus::sent) {
    slot.unsent = 0;
    ++sent_in_rate_window_;
  }
  return status;
}

bool Alerts::rate_allows(std::int64_t now_s) {
  if (now_s >= rate_window_start_s_ + settings_.window_s) {
    rate_window_start_s_ = now_s;
    sent_in_rate_window_ = 0;
  }
  return sent_in_rate_window_ < settings_.max_per_window;
}

namespace {
Alerts* bound_alerts = nullptr;
std::int64_t (*bound_wall_clock_s)() = nullptr;
}  // namespace

void bind_c_alert_api(Alerts* alerts, std::int64_t (*wall_clock_s)()) {
  bound_alerts = alerts;
  bound_wall_clock_s = wall_clock_s;
}

}  // namespace pigeon

extern "C" pigeon_alert_status pigeon_alert_send(const char* to, const char* subject, const char* body,
                                                 const char* key) {
  using pigeon::bound_alerts;
  if (bound_alerts == nullptr || to == nullptr || subject == nullptr || body == nullptr || key == nullptr) {
    return PIGEON_ALERT_NOT_READY;
  }
  const auto status = bound_alerts->send(to, subject, body, key, pigeon::bound_wall_clock_s());
  return static_cast<pigeon_alert_status>(static_cast<int>(status));
}
