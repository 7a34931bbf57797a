#include "state_folder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace pigeon::host {

bool StateFolder::open(const char* path) {
  path_ = path;
  if (::mkdir(path, 0700) == 0 || errno == EEXIST) return true;
  return false;
}

const char* StateFolder::file_path(const char* name, std::span<char> out) const {
  std::snprintf(out.data(), out.size(), "%s/%s", path_, name);
  return out.data();
}

std::optional<std::size_t> StateFolder::read(const char* name, std::span<char> out) const {
  char path[4096];
  const int fd = ::open(file_path(name, path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::size_t used = 0;
  for (;;) {
    const ssize_t got = ::read(fd, out.data() + used, out.size() - used);
    if (got <= 0) {
      ::close(fd);
      if (got < 0 || used == out.size()) return std::nullopt;
      return used;
    }
    used += static_cast<std::size_t>(got);
    if (used == out.size()) {
      ::close(fd);
      return std::nullopt;  // too big for the caller's buffer
    }
  }
}

bool StateFolder::write(const char* name, std::string_view content, unsigned mode) const {
  char path[4096];
  char temporary[4096 + 8];
  file_path(name, path);
  std::snprintf(temporary, sizeof temporary, "%s.new", path);
  const int fd = ::open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  const bool written = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  return written && ::rename(temporary, path) == 0;
}

}  // namespace pigeon::host
