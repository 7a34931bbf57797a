// The host's state folder (docs/configuration.md): small files read and written
// at start-up only — the certificate and key, the default user's credentials.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace pigeon::host {

class StateFolder {
 public:
  // Creates the folder when it does not exist. False on failure.
  bool open(const char* path);
  const char* path() const { return path_; }

  // The file's whole content, or nullopt when it does not exist or does not fit.
  std::optional<std::size_t> read(const char* name, std::span<char> out) const;
  // Writes the file atomically (temporary file, fsync, rename) with `mode`.
  bool write(const char* name, std::string_view content, unsigned mode) const;
  // "<folder>/<name>" for messages and for files other code opens.
  const char* file_path(const char* name, std::span<char> out) const;

 private:
  const char* path_ = nullptr;
};

}  // namespace pigeon::host
