// Fuzzes the line scanner: any bytes, any line limit. Lines never hold an LF
// or exceed the limit, and feeding the bytes whole or in pieces through a
// receive buffer finds the same lines.
#include <string>
#include <vector>

#include "protocol/line_scanner.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace pigeon::fuzz {
namespace {

std::vector<std::string> scan(const Tape& tape, const std::vector<std::size_t>& pieces) {
  const std::size_t max_line_bytes = 2 + tape.at(0) % 80;
  protocol::LineScanner scanner(max_line_bytes);
  std::vector<std::string> events;
  deliver(
      tape.session(), pieces,
      [&](std::span<const std::uint8_t> bytes) {
        const protocol::LineScan result = scanner.next(bytes);
        require(result.consumed_bytes <= bytes.size());
        if (result.kind == protocol::LineScan::Kind::line) {
          require(result.line.find('\n') == std::string_view::npos);
          require(result.line.size() + 1 <= max_line_bytes);
          require(result.consumed_bytes > result.line.size());
          events.emplace_back(result.line);
        } else if (result.kind == protocol::LineScan::Kind::too_long) {
          require(result.consumed_bytes > 0);
          events.emplace_back("<too long>");
        }
        return result.consumed_bytes;
      },
      [] { return false; });
  return events;
}

}  // namespace
}  // namespace pigeon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pigeon::fuzz;
  const Tape tape({data, size});
  require(scan(tape, {tape.session().size()}) == scan(tape, piece_sizes(tape, tape.session().size())));
  return 0;
}
