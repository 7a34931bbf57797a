#include "protocol/dns_message.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pigeon::protocol {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t query_id = 0x1234;

DnsName name_of(std::string_view host) {
  DnsName name;
  EXPECT_TRUE(encode_dns_name(host, name)) << host;
  return name;
}

Bytes wire(std::string_view host) {
  const DnsName name = name_of(host);
  return {name.bytes.begin(), name.bytes.begin() + static_cast<std::ptrdiff_t>(name.length)};
}

// A response written by hand, field by field, as a server would send it.
class Response {
 public:
  Response(std::uint16_t id, std::uint16_t flags, std::uint16_t answers) {
    u16(id).u16(flags).u16(1).u16(answers).u16(0).u16(0);
  }
  Response& u16(std::uint16_t value) {
    bytes.push_back(static_cast<std::uint8_t>(value >> 8));
    bytes.push_back(static_cast<std::uint8_t>(value));
    return *this;
  }
  Response& raw(const Bytes& data) {
    bytes.insert(bytes.end(), data.begin(), data.end());
    return *this;
  }
  Response& question(std::string_view host, DnsType type) {
    return raw(wire(host)).u16(static_cast<std::uint16_t>(type)).u16(1);
  }
  // A record: owner (any wire bytes, e.g. a pointer), type, class IN, TTL, RDATA.
  Response& record(const Bytes& owner, DnsType type, const Bytes& data, std::uint32_t ttl_s = 300) {
    raw(owner).u16(static_cast<std::uint16_t>(type)).u16(1);
    u16(static_cast<std::uint16_t>(ttl_s >> 16)).u16(static_cast<std::uint16_t>(ttl_s));
    return u16(static_cast<std::uint16_t>(data.size())).raw(data);
  }
  Bytes bytes;
};

constexpr std::uint16_t answer_flags = 0x8180;  // response, RD, RA, NOERROR
const Bytes to_question = {0xC0, 12};          // a pointer to the question's name
const Bytes example_v4 = {192, 0, 2, 25};

DnsAnswer parse(const Bytes& message, std::string_view host = "mail.example.org", DnsType type = DnsType::a) {
  return parse_dns_response(message, query_id, name_of(host), type);
}

TEST(DnsMessage, QueryForANameHasTheRfc1035Layout) {
  std::array<std::uint8_t, dns_udp_message_bytes> out{};
  const std::size_t length = build_dns_query(query_id, name_of("Mail.Example.org."), DnsType::aaaa, out);
  const Bytes expected = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,  // id, RD, one question
                          4, 'm', 'a', 'i', 'l', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0,
                          0, 28, 0, 1};  // AAAA, IN
  EXPECT_EQ(Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(length)), expected);
}

TEST(DnsMessage, QueryNeedsRoomForTheWholeMessage) {
  std::array<std::uint8_t, 20> small{};
  EXPECT_EQ(build_dns_query(query_id, name_of("mail.example.org"), DnsType::a, small), 0u);
}

TEST(DnsMessage, HostNamesThatAreNotDomainNamesAreRefused) {
  DnsName name;
  for (const std::string_view bad : {"", ".", "a..b", ".a", "spa ce.org", "bad!.org", "ümlaut.de"}) {
    EXPECT_FALSE(encode_dns_name(bad, name)) << bad;
  }
  EXPECT_TRUE(encode_dns_name(std::string(63, 'a') + ".org", name));
  EXPECT_FALSE(encode_dns_name(std::string(64, 'a') + ".org", name));
  // 253 characters of text is 255 bytes in wire form, the most there is.
  const std::string label(63, 'b');
  const std::string longest = label + "." + label + "." + label + "." + std::string(61, 'b');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_TRUE(encode_dns_name(longest, name));
  EXPECT_EQ(name.length, 255u);
  EXPECT_FALSE(encode_dns_name(longest + "b", name));
}

TEST(DnsMessage, AnswerThroughACompressionPointerGivesTheAddress) {
  Response response(query_id, answer_flags, 1);
  response.question("mail.example.org", DnsType::a).record(to_question, DnsType::a, example_v4, 3600);
  const DnsAnswer answer = parse(response.bytes);
  ASSERT_EQ(answer.outcome, DnsOutcome::address);
  EXPECT_EQ(Bytes(answer.address.begin(), answer.address.begin() + 4), example_v4);
  EXPECT_EQ(answer.ttl_s, 3600u);
}

TEST(DnsMessage, NamesCompareWithoutRegardToCase) {
  Response response(query_id, answer_flags, 1);
  response.question("MAIL.example.ORG", DnsType::a).record(wire("mail.EXAMPLE.org"), DnsType::a, example_v4);
  EXPECT_EQ(parse(response.bytes).outcome, DnsOutcome::address);
}

TEST(DnsMessage, Aaaa) {
  Bytes v6(16, 0);
  v6[0] = 0x20, v6[1] = 0x01, v6[2] = 0x0d, v6[3] = 0xb8, v6[15] = 0x25;
  Response response(query_id, answer_flags, 1);
  response.question("mail.example.org", DnsType::aaaa).record(to_question, DnsType::aaaa, v6);
  const DnsAnswer answer = parse(response.bytes, "mail.example.org", DnsType::aaaa);
  ASSERT_EQ(answer.outcome, DnsOutcome::address);
  EXPECT_EQ(Bytes(answer.address.begin(), answer.address.end()), v6);
}

TEST(DnsMessage, FollowsACnameChainToItsAddress) {
  // mail.example.org CNAME relay.example.net; relay.example.net CNAME
  // out.example.net (a pointer into the first target); out... A.
  Response response(query_id, answer_flags, 3);
  response.question("mail.example.org", DnsType::a);
  const Bytes relay = wire("relay.example.net");
  const auto relay_offset = static_cast<std::uint8_t>(response.bytes.size() + to_question.size() + 10);
  response.record(to_question, DnsType::cname, relay);
  const Bytes out_then_pointer = {3, 'o', 'u', 't', 0xC0, static_cast<std::uint8_t>(relay_offset + 6)};
  response.record({0xC0, relay_offset}, DnsType::cname, out_then_pointer);
  response.record(wire("out.example.net"), DnsType::a, example_v4);
  const DnsAnswer answer = parse(response.bytes);
  ASSERT_EQ(answer.outcome, DnsOutcome::address);
  EXPECT_EQ(Bytes(answer.address.begin(), answer.address.begin() + 4), example_v4);
}

TEST(DnsMessage, RecordsOfOtherNamesAndTypesAreSkipped) {
  Response response(query_id, answer_flags, 3);
  response.question("mail.example.org", DnsType::a)
      .record(wire("other.example.org"), DnsType::a, {10, 0, 0, 1})  // not the name asked for
      .record(to_question, DnsType::aaaa, Bytes(16, 1))              // not the type asked for
      .record(to_question, DnsType::a, example_v4);
  const DnsAnswer answer = parse(response.bytes);
  ASSERT_EQ(answer.outcome, DnsOutcome::address);
  EXPECT_EQ(Bytes(answer.address.begin(), answer.address.begin() + 4), example_v4);
}

TEST(DnsMessage, ErrorCodesAndEmptyAnswers) {
  Response nxdomain(query_id, 0x8183, 0);
  EXPECT_EQ(parse(nxdomain.question("mail.example.org", DnsType::a).bytes).outcome, DnsOutcome::no_such_name);
  Response servfail(query_id, 0x8182, 0);
  EXPECT_EQ(parse(servfail.question("mail.example.org", DnsType::a).bytes).outcome, DnsOutcome::server_failure);
  Response nodata(query_id, answer_flags, 0);
  EXPECT_EQ(parse(nodata.question("mail.example.org", DnsType::a).bytes).outcome, DnsOutcome::no_address);
}

TEST(DnsMessage, TruncatedAnswerIsUsedWhenTheAddressArrived) {
  Response whole(query_id, answer_flags | 0x0200, 1);
  whole.question("mail.example.org", DnsType::a).record(to_question, DnsType::a, example_v4);
  EXPECT_EQ(parse(whole.bytes).outcome, DnsOutcome::address);
  // The server cut the record it announced: the address may be in what is missing.
  Response cut(query_id, answer_flags | 0x0200, 2);
  cut.question("mail.example.org", DnsType::a).record(to_question, DnsType::cname, wire("x.example.net"));
  cut.bytes.resize(cut.bytes.size() + 3, 0xC0);
  EXPECT_EQ(parse(cut.bytes).outcome, DnsOutcome::truncated);
}

TEST(DnsMessage, AnswersToOtherQueriesAreNotOurs) {
  Response other_id(query_id + 1, answer_flags, 1);
  other_id.question("mail.example.org", DnsType::a).record(to_question, DnsType::a, example_v4);
  EXPECT_EQ(parse(other_id.bytes).outcome, DnsOutcome::not_ours);
  Response other_name(query_id, answer_flags, 1);
  other_name.question("evil.example.org", DnsType::a).record(to_question, DnsType::a, example_v4);
  EXPECT_EQ(parse(other_name.bytes).outcome, DnsOutcome::not_ours);
  Response other_type(query_id, answer_flags, 0);
  EXPECT_EQ(parse(other_type.question("mail.example.org", DnsType::aaaa).bytes).outcome, DnsOutcome::not_ours);
  Response a_query(query_id, 0x0100, 0);  // QR clear: a query, not a response
  EXPECT_EQ(parse(a_query.question("mail.example.org", DnsType::a).bytes).outcome, DnsOutcome::not_ours);
}

TEST(DnsMessage, PointersThatLoopOrPointForwardAreMalformed) {
  Response loop(query_id, answer_flags, 1);
  loop.question("mail.example.org", DnsType::a);
  const auto here = static_cast<std::uint8_t>(loop.bytes.size());
  loop.record({0xC0, here}, DnsType::a, example_v4);  // points at itself
  EXPECT_EQ(parse(loop.bytes).outcome, DnsOutcome::malformed);

  Response forward(query_id, answer_flags, 1);
  forward.question("mail.example.org", DnsType::a);
  const auto later = static_cast<std::uint8_t>(forward.bytes.size() + 2);
  forward.record({0xC0, later}, DnsType::a, example_v4);
  EXPECT_EQ(parse(forward.bytes).outcome, DnsOutcome::malformed);

  // A label followed by a pointer back to itself: a name without end, cut at 255 bytes.
  Response endless(query_id, answer_flags, 1);
  endless.question("mail.example.org", DnsType::a);
  const auto start = static_cast<std::uint8_t>(endless.bytes.size());
  endless.record({3, 'a', 'b', 'c', 0xC0, start}, DnsType::a, example_v4);
  EXPECT_EQ(parse(endless.bytes).outcome, DnsOutcome::malformed);
}

TEST(DnsMessage, LengthsThatLeaveTheMessageAreMalformed) {
  Response response(query_id, answer_flags, 1);
  response.question("mail.example.org", DnsType::a).record(to_question, DnsType::a, example_v4);
  for (std::size_t cut = 0; cut < response.bytes.size(); ++cut) {
    const Bytes shorter(response.bytes.begin(), response.bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    const DnsOutcome outcome = parse(shorter).outcome;
    EXPECT_TRUE(outcome == DnsOutcome::malformed || outcome == DnsOutcome::not_ours) << "cut at " << cut;
  }
  Bytes long_rdata = response.bytes;
  long_rdata[long_rdata.size() - 5] = 200;  // RDLENGTH past the end
  EXPECT_EQ(parse(long_rdata).outcome, DnsOutcome::malformed);
  Response many(query_id, answer_flags, 60000);  // far more records than bytes
  EXPECT_EQ(parse(many.question("mail.example.org", DnsType::a).bytes).outcome, DnsOutcome::malformed);
}

TEST(DnsMessage, AddressRecordOfTheWrongSizeIsIgnored) {
  Response response(query_id, answer_flags, 1);
  response.question("mail.example.org", DnsType::a).record(to_question, DnsType::a, {1, 2, 3});
  EXPECT_EQ(parse(response.bytes).outcome, DnsOutcome::no_address);
}

}  // namespace
}  // namespace pigeon::protocol
