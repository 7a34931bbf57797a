#include "loopback_stack.hpp"

#include <lwip/init.h>
#include <lwip/netif.h>
#include <lwip/stats.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

// The port functions lwIP and hal/lwip/arch/cc.h ask the platform for.
extern "C" u32_t sys_now(void) {
  using namespace std::chrono;
  static const auto start = steady_clock::now();
  return static_cast<u32_t>(duration_cast<milliseconds>(steady_clock::now() - start).count());
}

extern "C" unsigned int pigeon_lwip_random(void) {
  static std::mt19937 generator{std::random_device{}()};
  return static_cast<unsigned int>(generator());
}

extern "C" void pigeon_lwip_assert_failed(const char* message, const char* file, int line) {
  std::fprintf(stderr, "lwIP assertion failed: %s at %s:%d\n", message, file, line);
  std::abort();
}

namespace pigeon::test {

void LoopbackDriver::service_interfaces() { netif_poll_all(); }

void start_lwip() {
  static bool started = false;
  if (started) return;
  lwip_init();
  started = true;
}

hal::Endpoint loopback(std::uint16_t port) {
  hal::Endpoint endpoint;
  endpoint.address.bytes[0] = 127;
  endpoint.address.bytes[3] = 1;
  endpoint.port = port;
  return endpoint;
}

LwipUsage lwip_usage() {
  return {lwip_stats.memp[MEMP_PBUF_POOL]->used, lwip_stats.memp[MEMP_PBUF]->used,
          lwip_stats.memp[MEMP_TCP_SEG]->used, static_cast<std::uint32_t>(lwip_stats.mem.used)};
}

bool step_until(const std::function<void()>& step, const std::function<bool()>& done, int max_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    step();
  }
  return true;
}

bool drain(hal::Net& net, hal::StreamId stream, std::string& out) {
  char buffer[1500];
  for (;;) {
    const hal::IoResult result = net.receive(stream, {reinterpret_cast<std::uint8_t*>(buffer), sizeof buffer});
    if (result.status == hal::NetStatus::would_block) return true;
    if (result.status != hal::NetStatus::ok) return false;
    out.append(buffer, result.bytes);
  }
}

bool send_all(hal::Net& net, hal::StreamId stream, std::string_view data, const std::function<void()>& step) {
  std::size_t sent = 0;
  return step_until(step, [&] {
    const auto rest = data.substr(sent);
    const hal::IoResult result = net.send(stream, {reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size()});
    if (result.status == hal::NetStatus::ok) sent += result.bytes;
    return sent == data.size() || (result.status != hal::NetStatus::ok && result.status != hal::NetStatus::would_block);
  }) && sent == data.size();
}

}  // namespace pigeon::test
