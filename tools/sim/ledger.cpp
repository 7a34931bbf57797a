#include "ledger.hpp"

#include <algorithm>

namespace pigeon::sim {

std::uint64_t Ledger::submit(bool alert, std::uint64_t) {
  entries_.push_back(Entry{});
  entries_.back().alert = alert;
  ++totals_.submitted;
  return entries_.size() - 1;
}

void Ledger::fail(std::string text) {
  if (violation_.empty()) violation_ = std::move(text);
}

Ledger::Entry* Ledger::find(std::uint64_t id, const char* what) {
  if (id >= entries_.size()) {
    fail(std::string(what) + ": message " + std::to_string(id) + " was never submitted");
    return nullptr;
  }
  return &entries_[id];
}

void Ledger::answer(std::uint64_t id, Answer answer, std::uint64_t now_ms) {
  Entry* entry = find(id, "answer");
  if (entry == nullptr) return;
  entry->answer = answer;
  entry->answered_ms = now_ms;
  switch (answer) {
    case Answer::acknowledged: ++totals_.acknowledged; break;
    case Answer::refused: ++totals_.refused; break;
    case Answer::unknown: ++totals_.unknown; break;
    case Answer::none: break;
  }
  if (answer == Answer::refused && (entry->copies > 0 || entry->in_mailbox)) {
    fail("message " + std::to_string(id) + " was refused but had come out already");
  }
}

void Ledger::count_out(Entry& entry, std::uint64_t now_ms) {
  if (entry.copies > 0 || entry.in_mailbox) return;
  entry.first_out_ms = now_ms;
}

void Ledger::came_out(std::uint64_t id, Outlet outlet, std::uint64_t now_ms) {
  Entry* entry = find(id, "delivery");
  if (entry == nullptr) return;
  if (entry->answer == Answer::refused) {
    fail("message " + std::to_string(id) + " came out although its submission was refused");
    return;
  }
  if (outlet == Outlet::mailbox) {
    // A mailbox holds one copy; readers see it in every listing until it is deleted.
    if (!entry->in_mailbox && entry->copies == 0) ++totals_.delivered_mailbox;
    count_out(*entry, now_ms);
    entry->in_mailbox = true;
    return;
  }
  if (entry->copies > 0 || entry->in_mailbox) {
    if (entry->reply_at_risk) {
      ++totals_.duplicates_reply_lost;
      entry->reply_at_risk = false;
    } else if (entry->cut_after_copy) {
      ++totals_.duplicates_power_cut;
      entry->cut_after_copy = false;
    } else if (entry->cut_after_unrecorded) {
      ++totals_.duplicates_unrecorded;
      entry->cut_after_unrecorded = false;
    } else {
      fail("message " + std::to_string(id) + " came out twice with no power cut or lost reply to explain it");
      return;
    }
  } else {
    (outlet == Outlet::bounce ? totals_.bounced : totals_.delivered_smarthost) += 1;
  }
  count_out(*entry, now_ms);
  ++entry->copies;
  entry->last_copy_ms = now_ms;
  entry->unrecorded = false;
  recent_copies_.push_back(id);
}

void Ledger::outcomes_unrecorded(std::uint64_t count) {
  for (auto copy = recent_copies_.rbegin(); count > 0 && copy != recent_copies_.rend(); ++copy) {
    Entry& entry = entries_[*copy];
    if (entry.unrecorded) continue;
    entry.unrecorded = true;
    unrecorded_.push_back(*copy);
    --count;
  }
}

void Ledger::forget_old_copies(std::uint64_t now_ms) {
  std::erase_if(recent_copies_, [&](std::uint64_t id) { return now_ms - entries_[id].last_copy_ms > outcome_window_ms; });
}

void Ledger::reply_at_risk(std::uint64_t id) {
  if (Entry* entry = find(id, "lost reply")) entry->reply_at_risk = true;
}

void Ledger::relay_power_cut(std::uint64_t now_ms) {
  for (std::uint64_t id : recent_copies_) {
    Entry& entry = entries_[id];
    if (now_ms - entry.last_copy_ms <= outcome_window_ms) entry.cut_after_copy = true;
  }
  recent_copies_.clear();
  for (std::uint64_t id : unrecorded_) {
    Entry& entry = entries_[id];
    if (entry.unrecorded) entry.cut_after_unrecorded = true;
    entry.unrecorded = false;
  }
  unrecorded_.clear();
}

void Ledger::deletion_committed(std::uint64_t id) {
  Entry* entry = find(id, "deletion");
  if (entry == nullptr || entry->deleted) return;
  entry->deleted = true;
  ++totals_.deletions_committed;
}

void Ledger::seen_in_mailbox(std::uint64_t id) {
  Entry* entry = find(id, "listing");
  if (entry != nullptr && entry->deleted) {
    fail("message " + std::to_string(id) + " reappeared in a mailbox after a committed POP3 deletion");
  }
}

std::uint64_t Ledger::outstanding() const {
  return static_cast<std::uint64_t>(std::count_if(entries_.begin(), entries_.end(), [](const Entry& entry) {
    return entry.answer == Answer::acknowledged && entry.copies == 0 && !entry.in_mailbox;
  }));
}

void Ledger::final_check() {
  for (std::size_t id = 0; id < entries_.size(); ++id) {
    const Entry& entry = entries_[id];
    const bool out = entry.copies > 0 || entry.in_mailbox;
    if (out && entry.answer != Answer::acknowledged) ++totals_.delivered_unacknowledged;
    if (entry.answer != Answer::acknowledged || entry.copies > 0 || entry.in_mailbox) continue;
    ++totals_.lost;
    fail("message " + std::to_string(id) + " was acknowledged but neither delivered nor bounced");
  }
}

std::vector<std::uint64_t> Ledger::latencies_ms() const {
  std::vector<std::uint64_t> latencies;
  for (const Entry& entry : entries_) {
    if (entry.answer == Answer::acknowledged && entry.copies > 0 && entry.first_out_ms >= entry.answered_ms) {
      latencies.push_back(entry.first_out_ms - entry.answered_ms);
    }
  }
  std::sort(latencies.begin(), latencies.end());
  return latencies;
}

}  // namespace pigeon::sim
