#include "text.hpp"

namespace pigeon::text {

std::string_view next_token(std::string_view& rest) {
  auto separator = [](char c) { return ascii::is_space(c) || c == ','; };
  std::size_t start = 0;
  while (start < rest.size() && separator(rest[start])) ++start;
  std::size_t end = start;
  while (end < rest.size() && !separator(rest[end])) ++end;
  const std::string_view token = rest.substr(start, end - start);
  rest.remove_prefix(end);
  return token;
}

}  // namespace pigeon::text
