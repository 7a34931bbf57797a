// A relay in the simulated world: the real firmware relay (Relay, its
// DeliveryScheduler, the spool, the alert API, Mbed TLS) wired to the
// simulated HAL, as boards/host/main.cpp wires it to POSIX. The flash image
// outlives the relay: a power cut destroys everything else and a boot builds
// it again from the same image, as a board does.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "actors.hpp"
#include "firmware/alert.hpp"
#include "firmware/config.hpp"
#include "firmware/smarthost_tls.hpp"
#include "firmware/spool.hpp"
#include "hal/sim/ram_flash.hpp"
#include "hal/sim/sim_clock.hpp"
#include "hal/sim/sim_entropy.hpp"
#include "hal/sim/sim_log.hpp"

namespace pigeon::sim {

struct RelaySettings {
  std::string name;
  std::vector<std::string> config_lines;  // the relay's own configuration format
  struct User {
    std::string name, password;
  };
  std::vector<User> users;
  hal::FlashGeometry flash{4096, 64, 16};
  // TLS to the smarthost: its certificate as the CA (empty: no TLS), and the
  // names the relay's resolver knows.
  std::string smarthost_ca_pem;
  std::vector<std::pair<std::string, hal::IpAddress>> host_names;
  std::int64_t epoch_s = 1'767'225'600;  // 2026-01-01 UTC
  std::uint64_t boot_ms = 2'000;         // from power back to serving
  std::uint16_t alert_port = 0;          // the alert endpoint's; 0: off (as the host's default)
};

struct RelayCounters {
  std::uint64_t boots = 0, power_cuts = 0, torn_cuts = 0;
  // Every scheduled power cut ends in one of three: it fires (power_cuts), it
  // is skipped because the relay was already down, or the faults end before
  // it fired (the flash operations it waited for never happened).
  std::uint64_t power_cuts_scheduled = 0, power_cuts_skipped_down = 0, power_cuts_unfired = 0;
  std::uint32_t spool_high_water_percent = 0;
  std::uint64_t tls_handshakes = 0, tls_resumed = 0;
  // The spool's reclaims over every boot (Spool::ReclaimCounters).
  std::uint64_t reclaimed_sectors = 0, reclaim_messages_copied = 0;
};

class RelayHost final : public Actor {
 public:
  RelayHost(hal::SimNetwork& network, hal::SimHostId host, const hal::SimTime& time, const RelaySettings& settings,
            hal::SimLogSink& log_sink, Ledger& ledger, std::uint64_t seed);
  ~RelayHost() override;

  // Boots from the flash image; false (with the reason in `error`) when the
  // configuration or the spool does not come up.
  bool boot(std::string& error);
  void run(std::uint64_t now_ms) override;
  hal::SimNet& net() override { return net_; }

  // Faults: a power cut after `operations` more flash operations (torn or
  // clean). A cut scheduled while another is armed waits for that one to fire
  // and for the boot after it, so every scheduled cut happens; one scheduled
  // while the relay is down is skipped (false): the board has no power to lose.
  bool schedule_power_cut(std::uint64_t operations, bool torn, std::uint32_t seed);
  // The end of the faults: the cuts armed or waiting are counted as unfired.
  void cancel_power_cuts();
  // A wall-clock jump.
  void jump_clock(std::int64_t seconds) { clock_.jump(seconds); }
  // True between the cut and the end of the boot delay.
  bool down() const { return boot_ == nullptr; }
  // The alert API of the running relay (firmware/alert.hpp).
  AlertStatus send_alert(std::string_view to, std::string_view subject, std::string_view body, std::string_view key);

  // The port a service listens on (the configuration's, or the host default).
  std::uint16_t port(Service service) const;
  std::size_t queued() const;
  std::uint32_t spool_fill_percent() const;
  std::uint64_t flash_erases() const;
  const RelayCounters& counters() const { return counters_; }
  bool failed_boot() const { return !boot_error_.empty(); }
  // The name its certificate carries, and the certificate (its clients' CA).
  std::string tls_name() const { return settings_.name + ".sim"; }
  const std::string& certificate_pem() const { return cert_pem_; }
  const std::string& boot_error() const { return boot_error_; }

 private:
  struct Boot;
  // The relay's flash: the RAM image, and at the instant a cut hits it the
  // host drops off the network, so nothing the relay does after the cut (a
  // 451 for the commit that failed, say) leaves the board.
  class PoweredFlash final : public hal::Flash {
   public:
    PoweredFlash(hal::RamFlash& flash, hal::SimNetwork& network, hal::SimHostId host)
        : flash_(flash), network_(network), host_(host) {}
    hal::FlashGeometry geometry() const override { return flash_.geometry(); }
    hal::FlashStatus read(std::uint32_t address, std::span<std::uint8_t> out) override {
      return watch(flash_.read(address, out));
    }
    hal::FlashStatus program(std::uint32_t address, std::span<const std::uint8_t> data) override {
      return watch(flash_.program(address, data));
    }
    hal::FlashStatus erase(std::uint32_t sector) override { return watch(flash_.erase(sector)); }
    hal::FlashStatus sync() override { return watch(flash_.sync()); }

   private:
    hal::FlashStatus watch(hal::FlashStatus status) {
      if (status == hal::FlashStatus::power_lost) network_.host_down(host_);
      return status;
    }
    hal::RamFlash& flash_;
    hal::SimNetwork& network_;
    hal::SimHostId host_;
  };

  struct PendingCut {
    std::uint64_t operations;
    bool torn;
    std::uint32_t seed;
  };
  void power_cut(std::uint64_t now_ms);
  void arm_next_power_cut();
  void note_usage();
  void report_unrecorded_outcomes();

  hal::SimNet net_;
  hal::SimNetwork& network_;
  Ledger& ledger_;
  RelaySettings settings_;
  hal::SimClock clock_;
  hal::SimLog log_;
  hal::SimRandom random_;
  std::vector<std::uint8_t> flash_bytes_;
  std::vector<std::uint8_t> flash_units_;
  hal::RamFlash flash_;
  PoweredFlash powered_flash_;
  std::string key_pem_, cert_pem_;
  std::vector<std::string> password_hashes_;
  std::unique_ptr<Boot> boot_;
  std::deque<PendingCut> pending_cuts_;  // scheduled while another was armed
  bool cut_armed_ = false;
  bool armed_torn_ = false;
  std::uint64_t boot_at_ms_ = 0;
  std::string boot_error_;
  RelayCounters counters_;
  // What the boots before this one counted.
  SmarthostTlsClient::Counters tls_before_boot_;
  Spool::ReclaimCounters reclaims_before_boot_;
  std::uint32_t unrecorded_outcomes_seen_ = 0;  // of this boot
};

}  // namespace pigeon::sim
