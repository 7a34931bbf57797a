#include "world.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <vector>

#include "allocation_guard.hpp"
#include "hal/sim/sim_log.hpp"
#include "hal/sim/sim_random.hpp"

namespace pigeon::sim {
namespace {

constexpr std::uint64_t hour_ms = 3'600'000;
constexpr std::uint64_t sample_ms = 600'000;
// The port of a relay's alert endpoint when a scenario's alerts go through it.
constexpr std::uint16_t alert_endpoint_port = 2600;
// A host that asks to run again at the same instant this many times in a row
// spins: the relay's loop must not (docs/security.md, "no busy loop").
constexpr std::uint64_t spin_limit = 200'000;

hal::IpAddress next_address(hal::IpAddress address, std::uint32_t step) {
  std::uint32_t value = (std::uint32_t{address.bytes[0]} << 24) | (std::uint32_t{address.bytes[1]} << 16) |
                        (std::uint32_t{address.bytes[2]} << 8) | address.bytes[3];
  value += step;
  for (int i = 0; i < 4; ++i) address.bytes[i] = static_cast<std::uint8_t>(value >> (24 - 8 * i));
  return address;
}

std::string format_duration(std::uint64_t ms) {
  char text[64];
  if (ms < 10'000) std::snprintf(text, sizeof text, "%llu ms", static_cast<unsigned long long>(ms));
  else if (ms < 600'000) std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000);
  else if (ms < 7'200'000) std::snprintf(text, sizeof text, "%.1f min", static_cast<double>(ms) / 60'000);
  else std::snprintf(text, sizeof text, "%.1f h", static_cast<double>(ms) / 3'600'000);
  return text;
}

struct Event {
  enum class Kind : std::uint8_t { cut, power, clock, faults_end };
  std::uint64_t at_ms;
  Kind kind;
  std::size_t first = 0, second = 0;  // hosts (cut), relay (power, clock)
  std::uint64_t length_ms = 0;        // cut
  std::int64_t seconds = 0;           // clock
  int torn = -1;                      // power: -1 by chance
};

struct AlertSource {
  AlertSpec spec;
  RelayHost* relay;
  std::uint64_t next_ms;
  std::uint64_t fired = 0;
};

class World final : public hal::SimLogSink {
 public:
  World(const Scenario& scenario, const RunOptions& options)
      : scenario_(scenario), options_(options), random_(options.seed),
        network_(std::make_unique<hal::SimNetwork>(time_, random_.next())),
        world_log_(time_, "world", hal::LogLevel::info, *this) {
    network_->set_reset_after_ms(scenario.reset_after_ms);
  }

  RunResult run();

 private:
  void log_line(std::string_view line) override {
    for (const char c : line) event_hash_ = (event_hash_ ^ static_cast<std::uint8_t>(c)) * 0x100000001b3u;
    event_hash_ = (event_hash_ ^ '\n') * 0x100000001b3u;
    ++event_lines_;
    if (options_.trace != nullptr) std::fprintf(options_.trace, "%.*s\n", static_cast<int>(line.size()), line.data());
  }

  bool set_up(std::string& error);
  bool add_host(const std::string& name, const hal::IpAddress& address, const hal::SimLink& link,
                hal::SimHostId& id, std::string& error);
  bool schedule_faults(std::string& error);
  void fire(const Event& event);
  void fire_alerts();
  bool drained() const;
  std::uint64_t next_time() ;
  void report_hour();
  void sample();
  RelayCounters relay_totals() const;
  std::string summary(std::uint64_t end_ms) const;

  const Scenario& scenario_;
  const RunOptions& options_;
  hal::SimTime time_;
  hal::SimRandom random_;
  std::unique_ptr<hal::SimNetwork> network_;
  hal::SimLog world_log_;
  Ledger ledger_;
  std::vector<std::unique_ptr<Actor>> hosts_;  // index: the host's id
  std::map<std::string, hal::SimHostId, std::less<>> names_;
  std::vector<RelayHost*> relays_;
  std::vector<Smarthost*> smarthosts_;
  std::vector<Device*> devices_;
  std::vector<Reader*> readers_;
  std::vector<AlertSource> alert_sources_;
  std::vector<Event> events_;
  std::size_t next_event_ = 0;
  std::vector<std::uint64_t> due_;
  std::uint64_t next_hour_ms_ = hour_ms;
  std::uint64_t next_sample_ms_ = 0;
  std::uint64_t event_hash_ = 0xcbf29ce484222325u;
  std::uint64_t event_lines_ = 0;
  std::uint64_t cuts_ = 0;
  AlertCounts api_alerts_;
  std::vector<AlertClient*> alert_clients_;
  const RelayAllocations relay_allocations_before_ = relay_allocations();  // of earlier runs in this process
};

bool World::add_host(const std::string& name, const hal::IpAddress& address, const hal::SimLink& link,
                     hal::SimHostId& id, std::string& error) {
  if (names_.count(name) != 0) {
    error = "two hosts are called " + name;
    return false;
  }
  if (!network_->add_host(address, link, id)) {
    error = name + ": its address is taken or the network is full";
    return false;
  }
  names_[name] = id;
  return true;
}

bool World::set_up(std::string& error) {
  hal::SimHostId id = 0;
  std::map<std::string, const SmarthostSpec*, std::less<>> smarthost_specs;
  std::map<std::string, Smarthost*, std::less<>> smarthost_by_name;
  for (const SmarthostSpec& spec : scenario_.smarthosts) {
    if (!add_host(spec.settings.name, spec.address, spec.link, id, error)) return false;
    auto smarthost =
        std::make_unique<Smarthost>(*network_, id, spec.settings, ledger_, *this, random_.next(), scenario_.epoch_s);
    smarthosts_.push_back(smarthost.get());
    smarthost_by_name[spec.settings.name] = smarthost.get();
    hosts_.push_back(std::move(smarthost));
    smarthost_specs[spec.settings.name] = &spec;
  }
  for (const RelaySpec& spec : scenario_.relays) {
    RelaySettings settings = spec.settings;
    settings.epoch_s = scenario_.epoch_s;
    if (!spec.smarthost.empty()) {
      const auto found = smarthost_specs.find(spec.smarthost);
      if (found == smarthost_specs.end()) {
        error = spec.settings.name + ": no smarthost called " + spec.smarthost;
        return false;
      }
      const Smarthost& smarthost = *smarthost_by_name[spec.smarthost];
      const bool tls = found->second->settings.starttls;
      // With TLS the relay checks the certificate against the smarthost's name.
      settings.host_names.emplace_back(smarthost.tls_name(), found->second->address);
      settings.smarthost_ca_pem = smarthost.certificate_pem();
      settings.config_lines.insert(settings.config_lines.begin(),
                                   {"smarthost_host = " + smarthost.tls_name(),
                                    "smarthost_port = " + std::to_string(found->second->settings.port),
                                    tls ? "smarthost_tls = starttls" : "smarthost_tls = none",
                                    "listen_address = 0.0.0.0"});
    }
    for (const AlertSpec& alerts : scenario_.alerts) {
      if (alerts.via_endpoint && alerts.relay == spec.settings.name) settings.alert_port = alert_endpoint_port;
    }
    if (!add_host(spec.settings.name, spec.address, spec.link, id, error)) return false;
    auto relay = std::make_unique<RelayHost>(*network_, id, time_, settings, *this, ledger_, random_.next());
    if (!relay->boot(error)) return false;
    relays_.push_back(relay.get());
    hosts_.push_back(std::move(relay));
  }
  auto relay_endpoint = [&](const std::string& name, Service service, hal::Endpoint& out) {
    const auto found = names_.find(name);
    RelayHost* relay = nullptr;
    for (RelayHost* candidate : relays_) {
      if (found != names_.end() && candidate->net().host() == found->second) relay = candidate;
    }
    if (relay == nullptr) error = "no relay called '" + name + "'";
    else out = {network_->address(found->second), relay->port(service)};
    return relay;
  };
  // A client's TLS trusts its relay's certificate and checks its name.
  auto client_tls = [&](const RelayHost& relay, ClientTlsSettings& tls) {
    tls.relay_name = relay.tls_name();
    tls.relay_ca_pem = relay.certificate_pem();
  };
  for (const DeviceGroup& group : scenario_.devices) {
    for (std::uint32_t i = 0; i < group.count; ++i) {
      DeviceSettings settings = group.settings;
      settings.name = group.name + std::to_string(i + 1);
      settings.until_ms = scenario_.faults_until_ms;
      const Service service = settings.tls.mode == ClientTls::implicit   ? Service::submissions
                              : settings.tls.mode == ClientTls::starttls ? Service::submission
                                                                         : Service::smtp;
      const RelayHost* relay = relay_endpoint(group.relay, service, settings.relay);
      if (relay == nullptr) return false;
      client_tls(*relay, settings.tls);
      if (!add_host(settings.name, next_address(group.first_address, i), group.link, id, error)) return false;
      auto device = std::make_unique<Device>(*network_, id, settings, ledger_, random_.split(), *this);
      if (!device->tls_ready()) {
        error = settings.name + ": its TLS client does not take the relay's certificate";
        return false;
      }
      devices_.push_back(device.get());
      hosts_.push_back(std::move(device));
    }
  }
  for (const ReaderSpec& spec : scenario_.readers) {
    ReaderSettings settings = spec.settings;
    const Service service = settings.tls.mode == ClientTls::implicit ? Service::pop3s : Service::pop3;
    const RelayHost* relay = relay_endpoint(spec.relay, service, settings.relay);
    if (relay == nullptr) return false;
    client_tls(*relay, settings.tls);
    if (!add_host(settings.name, spec.address, spec.link, id, error)) return false;
    auto reader = std::make_unique<Reader>(*network_, id, settings, ledger_, random_.split(), *this);
    if (!reader->tls_ready()) {
      error = settings.name + ": its TLS client does not take the relay's certificate";
      return false;
    }
    readers_.push_back(reader.get());
    hosts_.push_back(std::move(reader));
  }
  for (const AlertSpec& spec : scenario_.alerts) {
    hal::Endpoint endpoint;
    if (!relay_endpoint(spec.relay, Service::smtp, endpoint)) return false;
    if (!spec.via_endpoint) {
      alert_sources_.push_back({spec, static_cast<RelayHost*>(hosts_[names_[spec.relay]].get()), spec.from_ms});
      continue;
    }
    // A program on the relay's machine: its endpoint listens on loopback only.
    const hal::Endpoint loopback{{false, {127, 0, 0, 1}}, alert_endpoint_port};
    const AlertClientSettings settings{spec.name, loopback, spec.to, spec.keys, spec.interval_ms, spec.from_ms,
                                       std::min(spec.until_ms, scenario_.faults_until_ms)};
    if (!add_host(spec.name, spec.address, spec.link, id, error)) return false;
    network_->share_machine(id, names_[spec.relay]);
    auto client = std::make_unique<AlertClient>(*network_, id, settings, ledger_, *this);
    alert_clients_.push_back(client.get());
    hosts_.push_back(std::move(client));
  }
  due_.resize(hosts_.size());
  return schedule_faults(error);
}

// Every fault is drawn here, from the seed, before the run starts.
bool World::schedule_faults(std::string& error) {
  const std::uint64_t window_ms = scenario_.faults_until_ms;
  auto host = [&](const std::string& name) {
    if (names_.count(name) == 0) error = "a fault names no host called '" + name + "'";
    return names_.count(name) ? names_[name] : hal::SimHostId{0};
  };
  auto relay = [&](const std::string& name) {
    const hal::SimHostId id = host(name);
    if (error.empty() && std::find(relays_.begin(), relays_.end(), hosts_[id].get()) == relays_.end()) {
      error = "power cuts and clock jumps need a relay, not '" + name + "'";
    }
    return id;
  };
  for (const CutSpec& cut : scenario_.cuts) {
    for (std::uint32_t i = 0; i < cut.count; ++i) {
      const std::uint64_t length = random_.between(cut.min_ms, cut.max_ms);
      const std::uint64_t at = cut.at_ms ? *cut.at_ms : random_.below(window_ms > length ? window_ms - length : 1);
      events_.push_back({at, Event::Kind::cut, host(cut.a), host(cut.b), length});
    }
  }
  for (const PowerSpec& power : scenario_.power_cuts) {
    for (std::uint32_t i = 0; i < power.count; ++i) {
      const std::uint64_t at = power.at_ms ? *power.at_ms : random_.below(window_ms);
      events_.push_back({at, Event::Kind::power, relay(power.relay), 0, 0, 0, power.torn ? int{*power.torn} : -1});
    }
  }
  for (const ClockJumpSpec& jump : scenario_.clock_jumps) {
    events_.push_back({jump.at_ms, Event::Kind::clock, relay(jump.relay), 0, 0, jump.seconds});
  }
  events_.push_back({window_ms, Event::Kind::faults_end});
  std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) { return a.at_ms < b.at_ms; });
  return error.empty();
}

void World::fire(const Event& event) {
  switch (event.kind) {
    case Event::Kind::cut: {
      ++cuts_;
      const auto a = static_cast<hal::SimHostId>(event.first), b = static_cast<hal::SimHostId>(event.second);
      world_log_.write(hal::LogLevel::info, "fault: link cut between host %u and host %u for %llu s", a, b,
                       static_cast<unsigned long long>(event.length_ms / 1000));
      network_->cut(a, b, time_.now_ms() + event.length_ms);
      return;
    }
    case Event::Kind::power: {
      auto* relay = static_cast<RelayHost*>(hosts_[event.first].get());
      const bool torn = event.torn < 0 ? random_.chance(500'000) : event.torn == 1;
      const std::uint64_t operations = random_.below(64);
      const auto seed = static_cast<std::uint32_t>(random_.next());
      if (relay->schedule_power_cut(operations, torn, seed)) {
        world_log_.write(hal::LogLevel::info, "fault: power cut scheduled on host %zu after %llu flash operations%s",
                         event.first, static_cast<unsigned long long>(operations), torn ? ", torn" : "");
      } else {
        world_log_.write(hal::LogLevel::info, "fault: power cut on host %zu skipped: the relay is already down",
                         event.first);
      }
      return;
    }
    case Event::Kind::clock: {
      world_log_.write(hal::LogLevel::info, "fault: wall clock of host %zu jumps %lld s", event.first,
                       static_cast<long long>(event.seconds));
      static_cast<RelayHost*>(hosts_[event.first].get())->jump_clock(event.seconds);
      return;
    }
    case Event::Kind::faults_end:
      world_log_.write(hal::LogLevel::info, "faults end; traffic stops; the queues drain");
      for (RelayHost* relay : relays_) relay->cancel_power_cuts();
      return;
  }
}

void World::fire_alerts() {
  for (AlertSource& source : alert_sources_) {
    while (source.next_ms <= time_.now_ms() && source.next_ms < std::min(source.spec.until_ms, scenario_.faults_until_ms)) {
      const std::uint64_t id = ledger_.submit(true, time_.now_ms());
      const std::string key = source.spec.name + "-" + std::to_string(source.fired++ % source.spec.keys);
      const AlertStatus status =
          source.relay->send_alert(source.spec.to, "sim alert " + key, alert_body(id, key), key);
      // Only a sent alert is a promise. The others may still come out: the
      // key's summary carries the body of its latest occurrence, even one the
      // caller was told failed.
      ledger_.answer(id, status == AlertStatus::sent ? Answer::acknowledged : Answer::unknown, time_.now_ms());
      api_alerts_.count(status);
      source.next_ms += source.spec.interval_ms;
    }
  }
}

bool World::drained() const {
  if (ledger_.outstanding() != 0) return false;
  if (std::any_of(devices_.begin(), devices_.end(), [](const Device* device) { return device->holds_message(); })) {
    return false;  // the relay still refuses new mail
  }
  return std::all_of(relays_.begin(), relays_.end(), [](RelayHost* relay) { return !relay->down() && relay->queued() == 0; });
}

std::uint64_t World::next_time() {
  for (std::size_t i = 0; i < hosts_.size(); ++i) due_[i] = hosts_[i]->net().wake_at_ms();
  network_->lower_due_times(due_);
  std::uint64_t next = *std::min_element(due_.begin(), due_.end());
  if (next_event_ < events_.size()) next = std::min(next, events_[next_event_].at_ms);
  for (const AlertSource& source : alert_sources_) {
    if (source.next_ms < std::min(source.spec.until_ms, scenario_.faults_until_ms)) next = std::min(next, source.next_ms);
  }
  return std::min({next, next_hour_ms_, next_sample_ms_});
}

void World::report_hour() {
  if (options_.progress == nullptr) return;
  const LedgerTotals& totals = ledger_.totals();
  std::fprintf(options_.progress,
               "seed %llu  %3lluh  submitted %llu  acknowledged %llu  out %llu  waiting %llu  queue %zu  spool %u%%\n",
               static_cast<unsigned long long>(options_.seed),
               static_cast<unsigned long long>(time_.now_ms() / hour_ms),
               static_cast<unsigned long long>(totals.submitted), static_cast<unsigned long long>(totals.acknowledged),
               static_cast<unsigned long long>(totals.delivered_smarthost + totals.delivered_mailbox + totals.bounced),
               static_cast<unsigned long long>(ledger_.outstanding()), relays_.empty() ? 0 : relays_[0]->queued(),
               relays_.empty() ? 0 : relays_[0]->spool_fill_percent());
  std::fflush(options_.progress);
}

void World::sample() {
  if (options_.series == nullptr) return;
  const LedgerTotals& totals = ledger_.totals();
  std::fprintf(options_.series, "%llu,%llu,%zu,%llu,%u\n", static_cast<unsigned long long>(time_.now_ms() / 60'000),
               static_cast<unsigned long long>(ledger_.outstanding()), relays_.empty() ? 0 : relays_[0]->queued(),
               static_cast<unsigned long long>(totals.delivered_smarthost + totals.delivered_mailbox + totals.bounced),
               relays_.empty() ? 0 : relays_[0]->spool_fill_percent());
}

RunResult World::run() {
  RunResult result;
  std::string error;
  if (!set_up(error)) {
    result.violation = "set-up: " + error;
    return result;
  }
  if (options_.series != nullptr) std::fprintf(options_.series, "minute,waiting,relay_queue,out,spool_percent\n");
  const std::uint64_t end_ms = scenario_.duration_ms;
  const std::uint64_t give_up_ms = end_ms + scenario_.drain_limit_ms;
  std::uint64_t same_instant = 0;
  std::uint64_t drained_at_ms = 0;
  for (;;) {
    const std::uint64_t next = next_time();
    if (next > time_.now_ms()) {
      time_.advance_to(std::min(std::max(next, time_.now_ms()), std::max(time_.now_ms(), give_up_ms)));
      same_instant = 0;
    } else if (++same_instant > spin_limit) {
      result.violation = "a host runs again and again at " + format_duration(time_.now_ms()) + " without progress";
      break;
    }
    const std::uint64_t now = time_.now_ms();
    while (next_event_ < events_.size() && events_[next_event_].at_ms <= now) fire(events_[next_event_++]);
    fire_alerts();
    if (now >= next_sample_ms_) {
      ledger_.forget_old_copies(now);
      sample();
      next_sample_ms_ += sample_ms;
    }
    if (now >= next_hour_ms_) {
      report_hour();
      next_hour_ms_ += hour_ms;
    }
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      if (due_[i] <= now) hosts_[i]->run(now);
    }
    for (RelayHost* relay : relays_) {
      if (relay->failed_boot()) result.violation = "the relay does not boot again: " + relay->boot_error();
    }
    if (const RelayAllocations heap = relay_allocations();
        heap.count != relay_allocations_before_.count && result.violation.empty()) {
      result.violation = "a relay allocated from the heap after start-up (" +
                         std::to_string(heap.count - relay_allocations_before_.count) + " times)";
    }
    if (ledger_.violated() || !result.violation.empty()) break;
    if (now >= end_ms && drained()) {
      drained_at_ms = now;
      break;
    }
    if (now >= give_up_ms) {
      drained_at_ms = now;
      break;
    }
  }
  if (result.violation.empty()) ledger_.final_check();
  if (result.violation.empty() && ledger_.violated()) result.violation = ledger_.violation();
  if (result.violation.empty() && !drained()) {
    result.violation = ledger_.outstanding() != 0 ? "the relay's queue did not drain after the faults stopped"
                                                  : "the relay still refuses new mail long after the faults stopped";
  }
  if (!result.violation.empty()) world_log_.write(hal::LogLevel::error, "violation: %s", result.violation.c_str());
  result.simulated_ms = time_.now_ms();
  result.summary = summary(drained_at_ms != 0 ? drained_at_ms : time_.now_ms());
  result.event_hash = event_hash_;
  const RelayCounters relay = relay_totals();
  result.power_cuts_scheduled = relay.power_cuts_scheduled;
  result.power_cuts_fired = relay.power_cuts;
  result.power_cuts_skipped_down = relay.power_cuts_skipped_down;
  result.power_cuts_unfired = relay.power_cuts_unfired;
  result.ok = result.violation.empty();
  return result;
}

// The counters of every relay added up (the high-water mark: the highest).
RelayCounters World::relay_totals() const {
  RelayCounters relay{};
  for (const RelayHost* host : relays_) {
    const RelayCounters& c = host->counters();
    relay.power_cuts += c.power_cuts;
    relay.torn_cuts += c.torn_cuts;
    relay.power_cuts_scheduled += c.power_cuts_scheduled;
    relay.power_cuts_skipped_down += c.power_cuts_skipped_down;
    relay.power_cuts_unfired += c.power_cuts_unfired;
    relay.boots += c.boots;
    relay.spool_high_water_percent = std::max(relay.spool_high_water_percent, c.spool_high_water_percent);
    relay.tls_handshakes += c.tls_handshakes;
    relay.tls_resumed += c.tls_resumed;
    relay.reclaimed_sectors += c.reclaimed_sectors;
    relay.reclaim_messages_copied += c.reclaim_messages_copied;
  }
  return relay;
}

std::string World::summary(std::uint64_t end_ms) const {
  const LedgerTotals& t = ledger_.totals();
  const std::vector<std::uint64_t> latencies = ledger_.latencies_ms();
  auto percentile = [&](std::size_t per_cent) {
    return latencies.empty() ? std::string("-") : format_duration(latencies[(latencies.size() - 1) * per_cent / 100]);
  };
  const RelayCounters relay = relay_totals();
  std::uint64_t erases = 0;
  for (const RelayHost* host : relays_) erases += host->flash_erases();
  SmarthostCounters smarthost{};
  for (const Smarthost* host : smarthosts_) {
    const SmarthostCounters& c = host->counters();
    smarthost.sessions += c.sessions;
    smarthost.messages += c.messages;
    smarthost.greylisted += c.greylisted;
    smarthost.refused += c.refused;
    smarthost.hung += c.hung;
    smarthost.dropped += c.dropped;
    smarthost.replies_lost += c.replies_lost;
    smarthost.tls_sessions += c.tls_sessions;
    smarthost.tls_failures += c.tls_failures;
    smarthost.bad_certificates += c.bad_certificates;
  }
  const hal::SimNetworkCounters& net = network_->counters();
  auto n = [](std::uint64_t value) { return std::to_string(value); };
  std::string text;
  text += "scenario " + scenario_.name + ", seed " + n(options_.seed) + ": " + format_duration(end_ms) +
          " simulated (faults and traffic until " + format_duration(scenario_.faults_until_ms) + ")\n";
  text += "  messages    submitted " + n(t.submitted) + ", acknowledged " + n(t.acknowledged) + ", refused " +
          n(t.refused) + ", answer lost or coalesced " + n(t.unknown) + "\n";
  if (!alert_sources_.empty()) {
    text += "  alerts      API: sent " + n(api_alerts_.sent) + ", coalesced or rate-limited " +
            n(api_alerts_.coalesced) + ", refused " + n(api_alerts_.refused) + "\n";
  }
  if (!alert_clients_.empty()) {
    AlertCounts endpoint;
    for (const AlertClient* client : alert_clients_) {
      endpoint.sent += client->counts().sent;
      endpoint.coalesced += client->counts().coalesced;
      endpoint.refused += client->counts().refused;
      endpoint.unanswered += client->counts().unanswered;
    }
    text += "  alerts      endpoint: sent " + n(endpoint.sent) + ", coalesced or rate-limited " +
            n(endpoint.coalesced) + ", refused " + n(endpoint.refused) + ", no answer " + n(endpoint.unanswered) +
            "\n";
  }
  text += "  out         smarthost " + n(t.delivered_smarthost) + ", mailbox " + n(t.delivered_mailbox) + ", bounced " +
          n(t.bounced) + ", lost " + n(t.lost) + ", out without an acknowledgement " + n(t.delivered_unacknowledged) +
          "\n";
  text += "  duplicates  " + n(t.duplicates_power_cut + t.duplicates_unrecorded + t.duplicates_reply_lost) +
          " (power cut between 250 and outcome " + n(t.duplicates_power_cut) +
          ", power cut after an outcome a full spool could not record " + n(t.duplicates_unrecorded) +
          ", smarthost reply lost " + n(t.duplicates_reply_lost) + ")\n";
  text += "  latency     acknowledgement to smarthost: median " + percentile(50) + ", p99 " + percentile(99) +
          ", max " + percentile(100) + "\n";
  text += "  spool       high-water " + n(relay.spool_high_water_percent) + "% of the sectors, reclaims " +
          n(relay.reclaimed_sectors) + " (messages copied " + n(relay.reclaim_messages_copied) + "), erases " +
          n(erases) + ", POP3 deletions committed " + n(t.deletions_committed) + "\n";
  text += "  tls         smarthost handshakes " + n(relay.tls_handshakes) + ", resumed " + n(relay.tls_resumed) +
          "; failed at the smarthost " + n(smarthost.tls_failures) + " (bad certificates offered " +
          n(smarthost.bad_certificates) + ")\n";
  SmarthostTlsClient::Counters device_tls{}, reader_tls{};
  std::uint64_t device_tls_failures = 0, reader_tls_failures = 0;
  for (const Device* device : devices_) {
    device_tls.handshakes += device->tls_counters().handshakes;
    device_tls.resumed += device->tls_counters().resumed;
    device_tls_failures += device->tls_failures();
  }
  for (const Reader* reader : readers_) {
    reader_tls.handshakes += reader->tls_counters().handshakes;
    reader_tls.resumed += reader->tls_counters().resumed;
    reader_tls_failures += reader->tls_failures();
  }
  text += "  client tls  device handshakes " + n(device_tls.handshakes) + ", resumed " + n(device_tls.resumed) +
          ", failed " + n(device_tls_failures) + "; reader handshakes " + n(reader_tls.handshakes) + ", resumed " +
          n(reader_tls.resumed) + ", failed " + n(reader_tls_failures) + "\n";
  text += "  faults      power cuts scheduled " + n(relay.power_cuts_scheduled) + ", fired " + n(relay.power_cuts) +
          " (torn " + n(relay.torn_cuts) + "), skipped while down " + n(relay.power_cuts_skipped_down) +
          ", unfired when the faults ended " + n(relay.power_cuts_unfired) + ", boots " +
          n(relay.boots) + ", link cuts " + n(cuts_) + ", resets " + n(net.resets) + ", stalls " + n(net.stalls) +
          ", refused connects " + n(net.refused) + "\n";
  text += "  smarthost   sessions " + n(smarthost.sessions) + ", messages " + n(smarthost.messages) + ", greylisted " +
          n(smarthost.greylisted) + ", refused " + n(smarthost.refused) + ", hung " + n(smarthost.hung) +
          ", dropped mid-DATA " + n(smarthost.dropped) + ", replies lost " + n(smarthost.replies_lost) + "\n";
  char hash[40];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(event_hash_));
  text += "  event log   " + n(event_lines_) + " lines, hash " + hash + "\n";
  return text;
}

}  // namespace

RunResult run_world(const Scenario& scenario, const RunOptions& options) {
  World world(scenario, options);
  return world.run();
}

}  // namespace pigeon::sim
