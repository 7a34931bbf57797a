// The host's local socket (docs/routers.md): a Unix-domain socket beside the
// TCP listeners, whose file mode and owner decide who may use it. The alert
// endpoint serves it (firmware/alert_endpoint.hpp): alert requests, and the
// words SMTP (local submission, used by `sendmail`), QUEUE (`mailq`,
// `pigeon queue`) and FLUSH (`pigeon flush`).
#pragma once

#include <span>

#include "firmware/alert_endpoint.hpp"
#include "firmware/delivery_scheduler.hpp"
#include "firmware/relay.hpp"
#include "hal/posix/posix_net.hpp"
#include "status.hpp"

namespace pigeon::host {

// The relay's side of the local commands.
class RelayLocalCommands final : public LocalCommands {
 public:
  RelayLocalCommands(Relay& relay, DeliveryScheduler& scheduler, Spool& spool, hal::Clock& clock,
                     const RelayFacts& facts)
      : relay_(relay), scheduler_(scheduler), spool_(spool), clock_(clock), facts_(facts) {}

  void start_submission(hal::StreamId stream, std::uint64_t now_ms) override {
    relay_.start_local_submission(stream, now_ms);
  }
  std::size_t list_queue(QueueCursor& cursor, std::span<char> out) override {
    const QueueTimes now{scheduler_.queue_time_s(), clock_.unix_time_s()};
    return pigeon::list_queue(spool_, scheduler_.queue(), now, cursor, out);
  }
  std::size_t flush_queue() override { return scheduler_.flush(); }
  std::size_t write_status(std::span<char> out) override {
    return write_running_status(facts_, relay_, scheduler_, spool_, clock_.unix_time_s(), out);
  }

 private:
  Relay& relay_;
  DeliveryScheduler& scheduler_;
  Spool& spool_;
  hal::Clock& clock_;
  const RelayFacts& facts_;
};

// The socket's path: `local_socket` from the configuration, else
// "<state>/pigeon.sock".
const char* local_socket_path(const RelayConfig& config, const char* state_path, std::span<char> storage);

// The commands that talk to a running relay (sendmail, mailq, flush) read its
// configuration file, when they are given one, for the socket's path and the
// host name; errors in it are the relay's to report. False when it cannot be read.
bool read_relay_config(const char* path, RelayConfig& config);
// Their socket: `local_socket` from that configuration, else $PIGEON_SOCKET,
// else the one in the packages' state folder.
const char* client_socket_path(const RelayConfig& config, std::span<char> storage);

// A connected local socket that has sent `command` and a line feed; -1 with
// errno set when the relay cannot be reached. `timeout_s` bounds every wait.
int connect_local(const char* path, const char* command, int timeout_s);

// Copies what the relay answers on `fd` to stdout until it closes; false
// when it answered nothing or the connection failed.
bool copy_answer(int fd);

// sysexits.h: the exit codes the callers of sendmail and mailq test.
inline constexpr int ex_ok = 0;
inline constexpr int ex_usage = 64;
inline constexpr int ex_dataerr = 65;
inline constexpr int ex_nouser = 67;
inline constexpr int ex_unavailable = 69;
inline constexpr int ex_tempfail = 75;
inline constexpr int ex_noperm = 77;
inline constexpr int ex_config = 78;

// "PROGRAM: WHAT" on stderr; returns `status`.
int report_failure(const char* program, int status, const char* what);
// Why connect_local() failed, in one line: 75 when the relay is not running
// (no socket, or nobody accepts on it), 77 when the socket's mode refuses us.
int report_unreachable(const char* program, const char* path);

// `pigeon queue` / `mailq` and `pigeon flush`: prints what the relay answers.
bool called_as_mailq(int argc, char** argv);
int run_queue_command(int argc, char** argv);

}  // namespace pigeon::host
