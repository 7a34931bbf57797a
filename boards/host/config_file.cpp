#include "config_file.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace pigeon::host {
namespace {

// Reads the rest of a line that did not fit the buffer, its line end included.
void skip_rest_of_line(std::FILE* file) {
  for (int c = std::fgetc(file); c != EOF && c != '\n'; c = std::fgetc(file)) {
  }
}

// True when fgets stopped because `line` was full, not at a line end or the
// end of the file.
bool line_overflows(std::FILE* file, std::string_view line, std::size_t capacity) {
  if (line.size() + 1 < capacity || line.back() == '\n') return false;
  const int next = std::fgetc(file);
  if (next == EOF || next == '\n') return false;  // it fitted exactly
  std::ungetc(next, file);
  return true;
}

}  // namespace

ConfigFileResult read_config_file(const char* path, RelayConfig& config, const char* program) {
  ConfigFileResult result;
  std::FILE* file = std::fopen(path, "r");
  if (file == nullptr) {
    if (program != nullptr) std::fprintf(stderr, "%s: cannot read %s: %s\n", program, path, std::strerror(errno));
    return result;
  }
  result.readable = true;
  ConfigReader reader(config);
  static_assert(max_config_line_bytes == 1023, "the refusal below names the limit");
  std::array<char, max_config_line_bytes + 1> line{};  // the text and fgets's NUL
  for (int number = 1; std::fgets(line.data(), static_cast<int>(line.size()), file) != nullptr; ++number) {
    std::string_view error;
    if (line_overflows(file, line.data(), line.size())) {
      skip_rest_of_line(file);
      error = "the line is longer than 1023 bytes";
    } else {
      error = reader.apply(line.data());
    }
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
