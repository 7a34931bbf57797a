#include "config_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pigeon::host {

ConfigFileResult read_config_file(const char* path, RelayConfig& config, const char* program) {
  ConfigFileResult result;
  std::FILE* file = std::fopen(path, "r");
  if (file == nullptr) {
    if (program != nullptr) std::fprintf(stderr, "%s: cannot read %s: %s\n", program, path, std::strerror(errno));
    return result;
  }
  result.readable = true;
  ConfigReader reader(config);
  char line[1024];
  for (int number = 1; std::fgets(line, sizeof line, file) != nullptr; ++number) {
    const std::string_view error = reader.apply(line);
    if (error.empty()) continue;
    ++result.refused_lines;
    if (program != nullptr) {
      std::fprintf(stderr, "%s: %s:%d: %.*s\n", program, path, number, static_cast<int>(error.size()), error.data());
    }
  }
  std::fclose(file);
  return result;
}

}  // namespace pigeon::host
