#include "firmware/ip_address.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace pigeon {
namespace {

std::string round_trip(std::string_view text) {
  const auto address = parse_ip_address(text);
  if (!address) return "<invalid>";
  std::array<char, 40> buffer{};
  return std::string(format_ip_address(*address, buffer));
}

TEST(IpAddress, ParsesAndFormatsIpv4) {
  EXPECT_EQ(round_trip("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(round_trip("255.255.255.255"), "255.255.255.255");
  const auto address = parse_ip_address("192.0.2.10");
  ASSERT_TRUE(address);
  EXPECT_FALSE(address->is_v6);
  EXPECT_EQ(address->bytes[3], 10);
}

TEST(IpAddress, ParsesAndFormatsIpv6) {
  EXPECT_EQ(round_trip("::1"), "::1");
  EXPECT_EQ(round_trip("::"), "::");
  EXPECT_EQ(round_trip("2001:DB8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  EXPECT_EQ(round_trip("fe80::"), "fe80::");
  EXPECT_EQ(round_trip("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
}

TEST(IpAddress, RejectsMalformedText) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "a.b.c.d", ":::",
                          "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "g::1"}) {
    EXPECT_EQ(round_trip(bad), "<invalid>") << bad;
  }
}

AddressKey key_of(std::string_view text) {
  const auto address = parse_ip_address(text);
  EXPECT_TRUE(address) << text;
  return address_key(address.value_or(hal::IpAddress{}));
}

TEST(AddressKey, Ipv4IsTheWholeAddress) {
  EXPECT_EQ(key_of("192.0.2.1"), key_of("192.0.2.1"));
  EXPECT_NE(key_of("192.0.2.1"), key_of("192.0.2.2"));
  EXPECT_NE(key_of("10.0.0.1"), key_of("11.0.0.1"));
}

TEST(AddressKey, Ipv6IsTheSlash64Prefix) {
  EXPECT_EQ(key_of("2001:db8:1:2::1"), key_of("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  EXPECT_NE(key_of("2001:db8:1:2::1"), key_of("2001:db8:1:3::1"));
  EXPECT_NE(key_of("2001:db8:1:2::1"), key_of("3001:db8:1:2::1"));
}

TEST(AddressKey, Ipv4MappedIpv6IsItsIpv4Address) {
  EXPECT_EQ(key_of("::ffff:c000:201"), key_of("192.0.2.1"));
  EXPECT_NE(key_of("::ffff:c000:201"), key_of("::ffff:c000:202"));
  // The same 64 leading zero bits as the mapped form, but not mapped: an IPv6 key.
  EXPECT_NE(key_of("::1"), key_of("0.0.0.1"));
  EXPECT_NE(key_of("::1"), key_of("::ffff:c000:201"));
}

TEST(AddressKey, Ipv4AndIpv6NeverCompareEqual) {
  EXPECT_NE(key_of("0.0.0.0"), key_of("::"));
}

std::string peer_text(const hal::Endpoint& peer) {
  std::array<char, peer_text_bytes> out{};
  return std::string(describe_peer(peer, out));
}

TEST(DescribePeer, AnAddressInBracketsWithItsPort) {
  EXPECT_EQ(peer_text({.address = *parse_ip_address("192.0.2.1"), .port = 25}), "[192.0.2.1]:25");
  EXPECT_EQ(peer_text({.address = *parse_ip_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), .port = 65535}),
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

TEST(DescribePeer, ALocalSocketClientIsLocal) {
  hal::Endpoint client;
  client.local = true;
  EXPECT_EQ(peer_text(client), "local");
}

}  // namespace
}  // namespace pigeon
