// Fuzzes the RFC 5321 path parser: any text. An accepted path keeps the
// length limits, is local-part "@" domain, parses again to itself and holds
// no control byte.
#include <string>

#include "protocol/ascii.hpp"
#include "protocol/mailbox_address.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using pigeon::fuzz::require;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string_view rest;
  const auto address = pigeon::protocol::parse_path(text, rest);
  if (!address) return 0;
  require(rest.data() + rest.size() == text.data() + text.size());
  if (address->path.empty()) return 0;
  require(address->path.size() <= 256 && address->local_part.size() <= 64 && address->domain.size() <= 255);
  require(std::string(address->local_part) + "@" + std::string(address->domain) == address->path);

  const std::string again_text = "<" + std::string(address->path) + ">";
  std::string_view again_rest;
  const auto again = pigeon::protocol::parse_path(again_text, again_rest);
  require(again && again->path == address->path && again_rest.empty());
  // A path stands in the Received header: no control byte may get through.
  for (const char c : address->path) require(!pigeon::ascii::is_control(c));
  return 0;
}
