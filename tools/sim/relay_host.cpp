#include "relay_host.hpp"

#include <algorithm>
#include <array>

#include "allocation_guard.hpp"
#include "firmware/alert_endpoint.hpp"
#include "firmware/alert_spool_store.hpp"
#include "firmware/crypto_random.hpp"
#include "firmware/delivery_scheduler.hpp"
#include "firmware/password_hash.hpp"
#include "firmware/provisioning.hpp"
#include "firmware/relay.hpp"
#include "firmware/server_identity.hpp"

namespace pigeon::sim {

// The relay's name lookups: the world's host names, else numeric addresses.
class WorldResolver final : public HostResolver {
 public:
  explicit WorldResolver(const RelaySettings& settings) : settings_(settings) {}
  hal::NetStatus resolve(std::string_view host_name, hal::IpAddress& out) override {
    for (const auto& [name, address] : settings_.host_names) {
      if (name == host_name) {
        out = address;
        return hal::NetStatus::ok;
      }
    }
    return literal_.resolve(host_name, out);
  }

 private:
  const RelaySettings& settings_;
  LiteralResolver literal_;
};

// What one boot of the relay builds, in the order boards/host/main.cpp does.
struct RelayHost::Boot {
  Boot(RelayHost& host, const RelayConfig& configuration, std::uint64_t entropy_seed)
      : config(configuration), entropy(entropy_seed), random(entropy), tls(random, config.tls_sessions),
        accounts(config), spool(host.powered_flash_, accounts), logins(config, accounts),
        services{config, host.net_, host.clock_, host.log_, spool, tls, accounts, logins}, smarthost_tls(random),
        resolver(host.settings_),
        scheduler(services, smarthost_tls, resolver), relay(services, &scheduler), alert_store(services),
        alerts({config.alert_window_s, config.alert_max_per_window}, alert_store),
        alert_endpoint(host.net_, host.clock_, host.log_, alerts) {}

  RelayConfig config;
  hal::SimEntropy entropy;
  CryptoRandom random;
  TlsServer tls;
  Accounts accounts;
  Spool spool;
  LoginService logins;
  RelayServices services;
  SmarthostTlsClient smarthost_tls;
  WorldResolver resolver;
  DeliveryScheduler scheduler;
  Relay relay;
  SpoolAlertStore alert_store;
  Alerts alerts;
  AlertEndpoint alert_endpoint;
};

RelayHost::RelayHost(hal::SimNetwork& network, hal::SimHostId host, const hal::SimTime& time,
                     const RelaySettings& settings, hal::SimLogSink& log_sink, Ledger& ledger, std::uint64_t seed)
    : net_(network, host), network_(network), ledger_(ledger), settings_(settings), clock_(time, settings.epoch_s),
      log_(time, settings_.name, hal::LogLevel::info, log_sink), random_(seed),
      flash_bytes_(settings.flash.total_bytes()),
      flash_units_(settings.flash.total_bytes() / settings.flash.program_unit_bytes),
      flash_(settings.flash, flash_bytes_, flash_units_), powered_flash_(flash_, network, host) {
  // Made once, as a board makes its key and its users' hashes at first start.
  hal::SimEntropy entropy(random_.next());
  CryptoRandom random(entropy);
  std::array<char, 4096> key{}, cert{};
  ServerIdentityPem identity{key, cert};
  if (generate_server_identity(random, tls_name(), settings_.epoch_s, identity)) {
    key_pem_.assign(key.data(), identity.key_length);
    cert_pem_.assign(cert.data(), identity.cert_length);
  }
  for (const RelaySettings::User& user : settings_.users) {
    std::array<char, max_password_hash_bytes> hash{};
    // Few iterations: the simulation measures the relay, not PBKDF2.
    const auto length = make_password_hash(random, user.password, hash, 1000);
    password_hashes_.emplace_back(hash.data(), length.value_or(0));
  }
}

RelayHost::~RelayHost() = default;

bool RelayHost::boot(std::string& error) {
  auto parsed = std::make_unique<RelayConfig>();
  RelayConfig& config = *parsed;
  for (const std::string& line : settings_.config_lines) {
    if (const std::string_view problem = apply_config_line(config, line); !problem.empty()) {
      error = settings_.name + ": config '" + line + "': " + std::string(problem);
      return false;
    }
  }
  for (std::size_t i = 0; i < settings_.users.size(); ++i) {
    if (!config.add_user(settings_.users[i].name, password_hashes_[i])) {
      error = settings_.name + ": cannot add user " + settings_.users[i].name;
      return false;
    }
  }
  clock_.reboot();
  network_.host_up(net_.host());
  boot_ = std::make_unique<Boot>(*this, config, random_.next());
  Boot& boot = *boot_;
  if (!boot.random.ready() || !boot.tls.load_identity(key_pem_, cert_pem_)) {
    error = settings_.name + ": TLS identity does not load";
  } else if (!boot.tls.enable_tickets(boot.config.tls_ticket_lifetime_s)) {
    error = settings_.name + ": no room for the session ticket keys";
  } else if (boot.spool.mount() != SpoolStatus::ok) {
    error = settings_.name + ": spool does not mount";
  } else if (!boot.logins.start(boot.random)) {
    error = settings_.name + ": login service does not start";
  } else if (const std::string_view problem = set_up_smarthost_tls(
                 boot.config.smarthost, settings_.smarthost_ca_pem.empty() ? nullptr : settings_.smarthost_ca_pem.c_str(),
                 boot.smarthost_tls);
             !problem.empty()) {
    error = settings_.name + ": " + std::string(problem);
  } else {
    Service failed = Service::smtp;
    if (boot.relay.start(failed) != hal::NetStatus::ok) {
      error = settings_.name + ": a listener does not start";
    } else if (settings_.alert_port != 0 && boot.alert_endpoint.start(settings_.alert_port) != hal::NetStatus::ok) {
      error = settings_.name + ": the alert endpoint does not start";
    }
  }
  if (!error.empty()) {
    boot_.reset();
    return false;
  }
  ++counters_.boots;
  unrecorded_outcomes_seen_ = 0;
  return true;
}

void RelayHost::run(std::uint64_t now_ms) {
  if (boot_ == nullptr) {
    if (now_ms < boot_at_ms_ || !boot_error_.empty()) {
      net_.set_wake_at_ms(boot_error_.empty() ? boot_at_ms_ : hal::SimNetwork::never);
      return;
    }
    if (!boot(boot_error_)) return;
    arm_next_power_cut();
  }
  {
    const RelayCode relay_code;
    boot_->alert_endpoint.poll();
    boot_->alerts.poll(clock_.unix_time_s());
    if (!flash_.power_lost()) net_.wait(boot_->relay.poll(clock_.monotonic_ms()));
  }
  report_unrecorded_outcomes();
  if (flash_.power_lost()) return power_cut(now_ms);
  note_usage();
}

AlertStatus RelayHost::send_alert(std::string_view to, std::string_view subject, std::string_view body,
                                  std::string_view key) {
  if (boot_ == nullptr) return AlertStatus::not_ready;
  AlertStatus status = AlertStatus::not_ready;
  {
    const RelayCode relay_code;
    status = boot_->alerts.send(to, subject, body, key, clock_.unix_time_s());
  }
  if (flash_.power_lost()) power_cut(network_.now_ms());
  return status;
}

// The board loses power: nothing more is written, every connection is gone,
// and the relay comes back from the same flash image after the boot delay.
void RelayHost::power_cut(std::uint64_t now_ms) {
  ++counters_.power_cuts;
  if (armed_torn_) ++counters_.torn_cuts;
  cut_armed_ = false;
  ledger_.relay_power_cut(now_ms);
  log_.write(hal::LogLevel::warning, "power cut%s; back in %llu ms", armed_torn_ ? " (torn flash operation)" : "",
             static_cast<unsigned long long>(settings_.boot_ms));
  network_.host_down(net_.host());
  tls_before_boot_ = {static_cast<std::uint32_t>(counters_.tls_handshakes), static_cast<std::uint32_t>(counters_.tls_resumed)};
  reclaims_before_boot_ = {static_cast<std::uint32_t>(counters_.reclaimed_sectors),
                           static_cast<std::uint32_t>(counters_.reclaim_messages_copied)};
  boot_.reset();
  flash_.restore_power();
  boot_at_ms_ = now_ms + settings_.boot_ms;
  net_.set_wake_at_ms(boot_at_ms_);
}

bool RelayHost::schedule_power_cut(std::uint64_t operations, bool torn, std::uint32_t seed) {
  ++counters_.power_cuts_scheduled;
  if (down()) {
    ++counters_.power_cuts_skipped_down;
    return false;
  }
  pending_cuts_.push_back({operations, torn, seed});
  arm_next_power_cut();
  return true;
}

// Arms the oldest waiting cut unless one is armed already; the flash operations
// it waits for count from now (for a cut waiting on an earlier one: from the
// boot after that one, so a cut may hit the mount or its reclaim).
void RelayHost::arm_next_power_cut() {
  if (cut_armed_ || pending_cuts_.empty()) return;
  const PendingCut cut = pending_cuts_.front();
  pending_cuts_.pop_front();
  cut_armed_ = true;
  armed_torn_ = cut.torn;
  flash_.cut_power_after(cut.operations, cut.torn, cut.seed);
}

void RelayHost::cancel_power_cuts() {
  flash_.disarm_power_cut();
  counters_.power_cuts_unfired += pending_cuts_.size() + (cut_armed_ ? 1 : 0);
  pending_cuts_.clear();
  cut_armed_ = false;
}

// Outcomes the full spool settled without a record (Spool::unrecorded_outcomes)
// in this round: the ledger learns that a later power cut may send those
// copies again.
void RelayHost::report_unrecorded_outcomes() {
  const std::uint32_t unrecorded = boot_->spool.unrecorded_outcomes();
  if (unrecorded > unrecorded_outcomes_seen_) ledger_.outcomes_unrecorded(unrecorded - unrecorded_outcomes_seen_);
  unrecorded_outcomes_seen_ = unrecorded;
}

void RelayHost::note_usage() {
  counters_.spool_high_water_percent = std::max(counters_.spool_high_water_percent, spool_fill_percent());
  counters_.tls_handshakes = tls_before_boot_.handshakes + boot_->smarthost_tls.counters().handshakes;
  counters_.tls_resumed = tls_before_boot_.resumed + boot_->smarthost_tls.counters().resumed;
  const Spool::ReclaimCounters& reclaims = boot_->spool.reclaim_counters();
  counters_.reclaimed_sectors = reclaims_before_boot_.sectors + reclaims.sectors;
  counters_.reclaim_messages_copied = reclaims_before_boot_.messages_copied + reclaims.messages_copied;
}

std::uint16_t RelayHost::port(Service service) const { return boot_ == nullptr ? 0 : boot_->relay.bound_port(service); }

std::size_t RelayHost::queued() const { return boot_ == nullptr ? 0 : boot_->scheduler.queue().size(); }

std::uint32_t RelayHost::spool_fill_percent() const {
  if (boot_ == nullptr) return 0;
  const Spool::Usage usage = boot_->spool.usage();
  if (usage.sector_count == 0) return 0;
  return (usage.sector_count - usage.free_sectors) * 100 / usage.sector_count;
}

std::uint64_t RelayHost::flash_erases() const {
  std::uint64_t erases = 0;
  for (std::uint32_t sector = 0; sector < settings_.flash.sector_count; ++sector) erases += flash_.counts(sector).erases;
  return erases;
}

}  // namespace pigeon::sim
