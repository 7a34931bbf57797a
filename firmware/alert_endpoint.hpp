// The alert control endpoint: a loopback-only TCP port through which a
// program on the same machine (tools/pigeon-alert) calls the alert API of the
// running relay, instead of opening its spool. One request per connection:
//
//   key TAB to TAB subject TAB body LF     (body: "\n" for a line break, "\\" for "\")
//
// answered with the pigeon_alert_status number and its name, then closed.
//
// On the host the same requests come over the local socket (docs/routers.md),
// where a first line of a single word asks for more (LocalCommands): "SMTP"
// (the stream becomes a local submission session, which greets), "QUEUE"
// (the queue listing, then close), "FLUSH" ("flushed N", then close) or
// "STATUS" (the relay's state in a few lines, then close).
//
// Several clients are served at once, each in a fixed slot with its own
// deadline; a client that finds every slot taken is answered "busy" at once.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "alert.hpp"
#include "hal/clock.hpp"
#include "hal/log.hpp"
#include "hal/net.hpp"
#include "queue_listing.hpp"

namespace pigeon {

// What the host's local socket offers besides alerts.
class LocalCommands {
 public:
  // The stream is handed over: it is the session's from now on.
  virtual void start_submission(hal::StreamId stream, std::uint64_t now_ms) = 0;
  virtual std::size_t list_queue(QueueCursor& cursor, std::span<char> out) = 0;
  // Every waiting message is due now; returns how many were waiting.
  virtual std::size_t flush_queue() = 0;
  // `pigeon status`: the relay's state as text in `out`; returns its length.
  virtual std::size_t write_status(std::span<char> out) = 0;

 protected:
  ~LocalCommands() = default;
};

class AlertEndpoint {
 public:
  static constexpr std::size_t client_slots = 4;
  // A client must finish its request, and read its answer, within this time.
  static constexpr std::uint64_t request_timeout_ms = 5000;

  AlertEndpoint(hal::Net& net, hal::Clock& clock, hal::Log& log, Alerts& alerts)
      : net_(net), clock_(clock), log_(log), alerts_(alerts) {}

  // Listens on 127.0.0.1:`port` (0: any free port).
  hal::NetStatus start(std::uint16_t port);
  std::uint16_t port() const { return net_.local_port(tcp_listener_); }
  // Also serves the host's local socket, already listening, with `commands`.
  void serve_local(hal::ListenerId listener, LocalCommands& commands);
  // Serves every client as far as it goes without blocking.
  void poll();

 private:
  enum class Phase : std::uint8_t { free, reading, listing };
  struct Client {
    hal::StreamId stream = hal::invalid_id;
    Phase phase = Phase::free;
    bool local = false;
    std::uint64_t deadline_ms = 0;
    std::array<char, 4096> buffer{};  // the request, then a piece of the queue listing
    std::size_t filled = 0;
    std::size_t sent = 0;
    QueueCursor cursor;
  };

  void accept_clients(hal::ListenerId listener, bool local);
  void refuse_busy(hal::StreamId stream);
  void serve(Client& client);
  void read_request(Client& client);
  void handle_request(Client& client, std::span<char> line);
  bool handle_local_command(Client& client, std::string_view line);
  void continue_listing(Client& client);
  AlertStatus handle_alert(std::span<char> line);
  void answer(Client& client, std::string_view reply);
  void answer(Client& client, AlertStatus status);
  void release(Client& client, bool close_stream);

  hal::Net& net_;
  hal::Clock& clock_;
  hal::Log& log_;
  Alerts& alerts_;
  hal::ListenerId tcp_listener_ = hal::invalid_id;
  hal::ListenerId local_listener_ = hal::invalid_id;
  LocalCommands* local_commands_ = nullptr;
  std::array<Client, client_slots> clients_{};
};

}  // namespace pigeon
