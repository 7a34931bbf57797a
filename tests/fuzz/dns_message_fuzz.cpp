// Fuzzes the DNS response reader: any bytes, read as the answer to an A or AAAA
// query for a name from the tape. It must never read outside the message; an
// address it accepts must sit in the message, after the question.
#include <algorithm>
#include <string>

#include "protocol/dns_message.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pigeon::protocol;
  using pigeon::fuzz::require;
  const pigeon::fuzz::Tape tape({data, size});
  const std::span<const std::uint8_t> message = tape.session();
  static constexpr const char* names[] = {"mail.example.org", "a.b", "x"};
  DnsName name;
  require(encode_dns_name(names[tape.at(0) % 3], name));
  const DnsType type = tape.at(1) % 2 == 0 ? DnsType::a : DnsType::aaaa;
  const auto id = static_cast<std::uint16_t>(tape.at(2) << 8 | tape.at(3));

  const DnsAnswer answer = parse_dns_response(message, id, name, type);
  if (answer.outcome != DnsOutcome::address) return 0;
  // The query it answers: the response repeats its id and question.
  std::array<std::uint8_t, dns_udp_message_bytes> query{};
  const std::size_t query_bytes = build_dns_query(id, name, type, query);
  require(query_bytes > 0 && message.size() > query_bytes);
  const std::size_t address_bytes = type == DnsType::a ? 4 : 16;
  const auto found = std::search(message.begin() + static_cast<std::ptrdiff_t>(query_bytes), message.end(),
                                 answer.address.begin(), answer.address.begin() + address_bytes);
  require(found != message.end());
  return 0;
}
