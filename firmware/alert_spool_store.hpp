// The alert API's store on a device: the composed alert becomes a message in
// the spool (local mailbox or smarthost, like any other), and success is
// reported only after its commit is durable (docs/architecture.md §5, §7).
#pragma once

#include "alert.hpp"
#include "relay_services.hpp"

namespace pigeon {

class SpoolAlertStore final : public AlertStore {
 public:
  explicit SpoolAlertStore(RelayServices& services);
  AlertStatus store(protocol::AlertFields& fields) override;

 private:
  AlertStatus write(protocol::AlertFields& fields, const SpoolWriter& writer);

  RelayServices& services_;
  FixedString<254> from_;
  std::array<char, PIGEON_ALERT_MESSAGE_BYTES> message_{};
};

}  // namespace pigeon
