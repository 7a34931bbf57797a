#include "dns_message.hpp"

#include <algorithm>
#include <optional>

#include "ascii.hpp"

namespace pigeon::protocol {
namespace {

constexpr std::size_t header_bytes = 12;
constexpr std::size_t max_label_bytes = 63;
constexpr std::uint16_t class_internet = 1;
// Links of a CNAME chain followed in one answer; real chains have one or two.
constexpr std::size_t max_cname_links = 8;
// Compression pointers followed in one name. Each must point before itself,
// which already ends every walk; this only keeps a hostile one short.
constexpr std::size_t max_name_pointers = 32;

// Header flags (RFC 1035 §4.1.1).
constexpr std::uint16_t flag_response = 0x8000;
constexpr std::uint16_t opcode_mask = 0x7800;
constexpr std::uint16_t flag_truncated = 0x0200;
constexpr std::uint16_t flag_recursion_desired = 0x0100;
constexpr std::uint16_t rcode_mask = 0x000F;
constexpr std::uint16_t rcode_name_error = 3;

// Label length bytes: 00xxxxxx a label, 11xxxxxx a pointer (RFC 1035 §4.1.4).
constexpr std::uint8_t label_kind_mask = 0xC0;
constexpr std::uint8_t pointer_kind = 0xC0;

std::uint8_t lower(std::uint8_t byte) {
  return static_cast<std::uint8_t>(ascii::to_lower(static_cast<char>(byte)));
}

bool host_name_character(char c) {
  const char folded = ascii::to_lower(c);
  return (folded >= 'a' && folded <= 'z') || ascii::is_digit(c) || c == '-' || c == '_';
}

std::size_t address_bytes(DnsType type) { return type == DnsType::aaaa ? 16 : 4; }

// Reads the name at `offset`, following compression pointers. Returns the
// offset just past the name where it started (after its first pointer).
std::optional<std::size_t> read_name(std::span<const std::uint8_t> message, std::size_t offset, DnsName& out) {
  out.length = 0;
  std::optional<std::size_t> end;
  std::size_t pointers = 0;
  for (std::size_t position = offset;;) {
    if (position >= message.size()) return std::nullopt;
    const std::uint8_t length = message[position];
    if ((length & label_kind_mask) == pointer_kind) {
      if (position + 1 >= message.size()) return std::nullopt;
      const std::size_t target = std::size_t{length & 0x3Fu} << 8 | message[position + 1];
      if (target >= position || ++pointers > max_name_pointers) return std::nullopt;
      if (!end) end = position + 2;
      position = target;
      continue;
    }
    if ((length & label_kind_mask) != 0) return std::nullopt;  // the obsolete extended label types
    if (out.length + 1 + length > DnsName::max_bytes || position + 1 + length > message.size()) return std::nullopt;
    out.bytes[out.length++] = length;
    for (std::size_t i = 1; i <= length; ++i) out.bytes[out.length++] = lower(message[position + i]);
    position += 1 + length;
    if (length == 0) return end.value_or(position);
  }
}

// A cursor over a received message; every read checks the bounds.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> message) : message_(message) {}

  std::size_t offset() const { return offset_; }

  bool u16(std::uint16_t& out) {
    if (message_.size() - offset_ < 2) return false;
    out = static_cast<std::uint16_t>(message_[offset_] << 8 | message_[offset_ + 1]);
    offset_ += 2;
    return true;
  }

  bool u32(std::uint32_t& out) {
    std::uint16_t high = 0, low = 0;
    if (!u16(high) || !u16(low)) return false;
    out = std::uint32_t{high} << 16 | low;
    return true;
  }

  bool skip(std::size_t bytes) {
    if (message_.size() - offset_ < bytes) return false;
    offset_ += bytes;
    return true;
  }

  bool name(DnsName& out) {
    const auto end = read_name(message_, offset_, out);
    if (!end) return false;
    offset_ = *end;
    return true;
  }

 private:
  std::span<const std::uint8_t> message_;
  std::size_t offset_ = 0;
};

// One resource record's fixed fields (RFC 1035 §4.1.3); RDATA stays in place.
struct Record {
  DnsName owner;
  std::uint16_t type = 0;
  std::uint16_t record_class = 0;
  std::uint32_t ttl_s = 0;
  std::size_t data_offset = 0;
  std::uint16_t data_bytes = 0;
};

bool read_record(Reader& reader, Record& record) {
  if (!reader.name(record.owner) || !reader.u16(record.type) || !reader.u16(record.record_class) ||
      !reader.u32(record.ttl_s) || !reader.u16(record.data_bytes)) {
    return false;
  }
  record.data_offset = reader.offset();
  return reader.skip(record.data_bytes);
}

enum class Scan : std::uint8_t { found, absent, broken };

// Walks the answer section for an address of `wanted`, moving `wanted` along
// the CNAME chain as it goes.
Scan find_address(std::span<const std::uint8_t> message, Reader& reader, std::uint16_t answer_count,
                  DnsName wanted, DnsType type, DnsAnswer& answer) {
  std::size_t links = 0;
  Record record;
  for (std::uint16_t i = 0; i < answer_count; ++i) {
    if (!read_record(reader, record)) return Scan::broken;
    if (record.record_class != class_internet || !(record.owner == wanted)) continue;
    if (record.type == static_cast<std::uint16_t>(DnsType::cname)) {
      const auto end = read_name(message, record.data_offset, wanted);
      if (++links > max_cname_links || !end || *end > record.data_offset + record.data_bytes) return Scan::broken;
    } else if (record.type == static_cast<std::uint16_t>(type) && record.data_bytes == address_bytes(type)) {
      std::copy_n(message.begin() + static_cast<std::ptrdiff_t>(record.data_offset), record.data_bytes,
                  answer.address.begin());
      answer.ttl_s = record.ttl_s;
      return Scan::found;
    }
  }
  return Scan::absent;
}

// Writes big-endian 16-bit fields into a buffer known to be large enough.
class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out) : out_(out) {}
  std::size_t length() const { return length_; }

  Writer& u16(std::uint16_t value) {
    out_[length_++] = static_cast<std::uint8_t>(value >> 8);
    out_[length_++] = static_cast<std::uint8_t>(value);
    return *this;
  }

  Writer& bytes(std::span<const std::uint8_t> data) {
    std::copy(data.begin(), data.end(), out_.begin() + static_cast<std::ptrdiff_t>(length_));
    length_ += data.size();
    return *this;
  }

 private:
  std::span<std::uint8_t> out_;
  std::size_t length_ = 0;
};

}  // namespace

bool DnsName::operator==(const DnsName& other) const { return std::ranges::equal(view(), other.view()); }

bool encode_dns_name(std::string_view host_name, DnsName& out) {
  out.length = 0;
  if (host_name.ends_with('.')) host_name.remove_suffix(1);
  if (host_name.empty()) return false;
  for (;;) {
    const std::size_t dot = host_name.find('.');
    const std::string_view label = host_name.substr(0, dot);
    // The label, its length byte, and the root's zero byte must fit.
    if (label.empty() || label.size() > max_label_bytes || out.length + label.size() + 2 > DnsName::max_bytes) {
      return false;
    }
    out.bytes[out.length++] = static_cast<std::uint8_t>(label.size());
    for (const char c : label) {
      if (!host_name_character(c)) return false;
      out.bytes[out.length++] = lower(static_cast<std::uint8_t>(c));
    }
    if (dot == std::string_view::npos) break;
    host_name.remove_prefix(dot + 1);
  }
  out.bytes[out.length++] = 0;
  return true;
}

std::size_t build_dns_query(std::uint16_t id, const DnsName& name, DnsType type, std::span<std::uint8_t> out) {
  const std::size_t length = header_bytes + name.length + 4;
  if (name.length == 0 || out.size() < length) return 0;
  Writer writer(out);
  writer.u16(id).u16(flag_recursion_desired).u16(1).u16(0).u16(0).u16(0);  // one question
  writer.bytes(name.view()).u16(static_cast<std::uint16_t>(type)).u16(class_internet);
  return writer.length();
}

DnsAnswer parse_dns_response(std::span<const std::uint8_t> message, std::uint16_t id, const DnsName& name,
                             DnsType type) {
  DnsAnswer answer;
  Reader reader(message);
  std::uint16_t got_id = 0, flags = 0, questions = 0, answers = 0;
  if (!reader.u16(got_id) || !reader.u16(flags) || !reader.u16(questions) || !reader.u16(answers) ||
      !reader.skip(4)) {
    return answer;
  }
  if (got_id != id || (flags & flag_response) == 0 || (flags & opcode_mask) != 0 || questions != 1) {
    answer.outcome = DnsOutcome::not_ours;
    return answer;
  }
  DnsName asked;
  std::uint16_t asked_type = 0, asked_class = 0;
  if (!reader.name(asked) || !reader.u16(asked_type) || !reader.u16(asked_class)) return answer;
  if (!(asked == name) || asked_type != static_cast<std::uint16_t>(type) || asked_class != class_internet) {
    answer.outcome = DnsOutcome::not_ours;
    return answer;
  }

  const std::uint16_t rcode = flags & rcode_mask;
  if (rcode != 0) {
    answer.outcome = rcode == rcode_name_error ? DnsOutcome::no_such_name : DnsOutcome::server_failure;
    return answer;
  }
  const Scan scan = find_address(message, reader, answers, name, type, answer);
  if (scan == Scan::found) {
    answer.outcome = DnsOutcome::address;
  } else if ((flags & flag_truncated) != 0) {
    answer.outcome = DnsOutcome::truncated;  // what is missing may be the address
  } else {
    answer.outcome = scan == Scan::broken ? DnsOutcome::malformed : DnsOutcome::no_address;
  }
  return answer;
}

}  // namespace pigeon::protocol
