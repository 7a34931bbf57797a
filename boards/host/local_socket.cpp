#include "local_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "config_file.hpp"

namespace pigeon::host {
namespace {

// Where the packages keep the relay's state (docs/routers.md).
constexpr const char* packaged_socket_path = "/var/lib/pigeon/pigeon.sock";

bool copy_path(std::string_view path, std::span<char> storage) {
  if (path.size() >= storage.size()) return false;
  path.copy(storage.data(), path.size());
  storage[path.size()] = '\0';
  return true;
}

bool send_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t sent = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

}  // namespace

const char* local_socket_path(const RelayConfig& config, const char* state_path, std::span<char> storage) {
  if (!config.local_socket.empty()) {
    return copy_path(config.local_socket.view(), storage) ? storage.data() : nullptr;
  }
  const int length = std::snprintf(storage.data(), storage.size(), "%s/pigeon.sock", state_path);
  return length > 0 && static_cast<std::size_t>(length) < storage.size() ? storage.data() : nullptr;
}

bool read_relay_config(const char* path, RelayConfig& config) {
  return path == nullptr || read_config_file(path, config, nullptr).readable;
}

const char* client_socket_path(const RelayConfig& config, std::span<char> storage) {
  const char* from_environment = std::getenv("PIGEON_SOCKET");
  const std::string_view path = !config.local_socket.empty() ? config.local_socket.view()
                                : from_environment != nullptr ? std::string_view(from_environment)
                                                              : std::string_view(packaged_socket_path);
  return copy_path(path, storage) ? storage.data() : nullptr;
}

int connect_local(const char* path, const char* command, int timeout_s) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof address.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::strcpy(address.sun_path, path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const timeval timeout{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      !send_all(fd, command) || !send_all(fd, "\n")) {
    const int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

bool copy_answer(int fd) {
  std::array<char, 4096> buffer{};
  ssize_t got = 0;
  bool any = false;
  while ((got = ::recv(fd, buffer.data(), buffer.size(), 0)) > 0) {
    std::fwrite(buffer.data(), 1, static_cast<std::size_t>(got), stdout);
    any = true;
  }
  return got == 0 && any;
}

int report_failure(const char* program, int status, const char* what) {
  std::fprintf(stderr, "%s: %s\n", program, what);
  return status;
}

int report_unreachable(const char* program, const char* path) {
  const int error = errno;
  if (error == EACCES || error == EPERM) {
    std::fprintf(stderr, "%s: not allowed to use the relay's socket %s (its mode and owner decide)\n", program, path);
    return ex_noperm;
  }
  if (error == ENOENT || error == ECONNREFUSED) {
    std::fprintf(stderr, "%s: the relay is not running (nobody answers on %s)\n", program, path);
  } else {
    std::fprintf(stderr, "%s: cannot reach the relay on %s: %s\n", program, path, std::strerror(error));
  }
  return ex_tempfail;
}

bool called_as_mailq(int argc, char** argv) {
  if (argc < 1) return false;
  const std::string_view program = argv[0];
  const std::size_t slash = program.rfind('/');
  if (program.substr(slash == std::string_view::npos ? 0 : slash + 1) == "mailq") return true;
  return argc > 1 && (std::string_view(argv[1]) == "queue" || std::string_view(argv[1]) == "flush");
}

int run_queue_command(int argc, char** argv) {
  const bool flush = argc > 1 && std::string_view(argv[1]) == "flush";
  const char* program = flush ? "pigeon flush" : "mailq";
  const char* config_path = std::getenv("PIGEON_CONFIG");
  const int first = std::string_view(argv[0]).ends_with("mailq") ? 1 : 2;
  for (int i = first; i < argc; ++i) {
    if (std::string_view(argv[i]) == "-C" && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [-C pigeon.conf]\n", program);
      return ex_usage;
    }
  }
  static RelayConfig config;
  if (!read_relay_config(config_path, config)) return report_failure(program, ex_config, "cannot read the pigeon configuration");
  std::array<char, 256> path_storage{};
  const char* path = client_socket_path(config, path_storage);
  if (path == nullptr) return report_failure(program, ex_config, "the local socket's path is too long");
  const int fd = connect_local(path, flush ? "FLUSH" : "QUEUE", 60);
  if (fd < 0) return report_unreachable(program, path);
  const bool answered = copy_answer(fd);
  ::close(fd);
  return answered ? ex_ok : report_failure(program, ex_tempfail, "the relay did not answer");
}

}  // namespace pigeon::host
