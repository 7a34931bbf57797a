// DNS messages for a stub resolver (RFC 1035 §4; AAAA records: RFC 3596): the
// query for one host name's addresses, and the reading of the answer. Sans-I/O:
// the caller sends the query over UDP and hands back what arrives, so the
// untrusted bytes are read here, with every length and pointer checked.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pigeon::protocol {

enum class DnsType : std::uint16_t { a = 1, cname = 5, aaaa = 28 };

// The largest message over UDP without EDNS (RFC 1035 §2.3.4).
inline constexpr std::size_t dns_udp_message_bytes = 512;

// A domain name in wire form, lower-cased: length-prefixed labels ending with
// the root's zero byte, at most 255 bytes in all (RFC 1035 §2.3.4).
struct DnsName {
  static constexpr std::size_t max_bytes = 255;
  std::array<std::uint8_t, max_bytes> bytes{};
  std::size_t length = 0;

  std::span<const std::uint8_t> view() const { return {bytes.data(), length}; }
  bool operator==(const DnsName& other) const;
};

// A host name ("mail.example.org", a final dot allowed) in wire form. False when
// it is not one: an empty label, a label over 63 bytes, a character other than
// a letter, digit, '-' or '_', or over 255 bytes in wire form.
bool encode_dns_name(std::string_view host_name, DnsName& out);

// Writes a recursive query (RD set) for one record type of `name`. Returns the
// message's length, 0 when `out` is too small (512 bytes always suffice).
std::size_t build_dns_query(std::uint16_t id, const DnsName& name, DnsType type, std::span<std::uint8_t> out);

enum class DnsOutcome : std::uint8_t {
  address,         // `address` holds the first record of the asked type
  no_address,      // the name exists without a record of that type
  no_such_name,    // NXDOMAIN
  server_failure,  // any other error code (SERVFAIL, REFUSED, ...)
  truncated,       // TC set and no address in what arrived (TCP would be next)
  not_ours,        // not the answer to this query (id or question differ): ignore it
  malformed,       // a length, pointer or count that leaves the message
};

struct DnsAnswer {
  DnsOutcome outcome = DnsOutcome::malformed;
  std::array<std::uint8_t, 16> address{};  // 4 bytes for A, 16 for AAAA, network order
  std::uint32_t ttl_s = 0;
};

// Reads the answer to the query `build_dns_query(id, name, type)`. The address
// is that of `name` itself or of the name a CNAME chain in the answer section
// leads to (records in chain order, as servers send them; at most 8 links).
DnsAnswer parse_dns_response(std::span<const std::uint8_t> message, std::uint16_t id, const DnsName& name,
                             DnsType type);

}  // namespace pigeon::protocol
