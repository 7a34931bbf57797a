#include "protocol/domain_syntax.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pigeon::protocol {
namespace {

using namespace std::string_literals;  // "..."s keeps a NUL inside the text

const std::string label63(63, 'd');
const std::string longest_domain = label63 + "." + label63 + "." + label63 + "." + label63;  // 255 octets

TEST(DomainSyntax, Ipv4TakesFourNumbersUpTo255) {
  for (const std::string_view good : {"192.0.2.1", "0.0.0.0", "255.255.255.255", "010.001.0.9"}) {
    EXPECT_TRUE(is_ipv4_text(good)) << good;
  }
  for (const std::string_view bad :
       {"", "192.0.2", "192.0.2.1.5", "256.0.0.1", "1..2.3", "1.2.3.", ".1.2.3", "1.2.3.0004", "1.2.3.a", "1.2.3.-1"}) {
    EXPECT_FALSE(is_ipv4_text(bad)) << bad;
  }
}

TEST(DomainSyntax, Ipv6TakesTheFormsOfRfc5321) {
  for (const std::string_view good :
       {"2001:db8:0:0:0:0:0:1", "2001:db8::1", "::1", "::", "fe80::", "1:2:3:4:5:6::8", "::ffff:192.0.2.1",
        "1:2:3:4:5:6:192.0.2.1", "2001:DB8::ABCD"}) {
    EXPECT_TRUE(is_ipv6_text(good)) << good;
  }
  for (const std::string_view bad :
       {"", "1", "2001:db8:0:0:0:0:1", "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "1:2:3:4:5:6:7::8", "12345::1",
        "::g", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "192.0.2.1", "::192.0.2.1:1", "1:2:3:4:5:6:7:192.0.2.1",
        "fe80::1%eth0"}) {
    EXPECT_FALSE(is_ipv6_text(bad)) << bad;
  }
}

TEST(DomainSyntax, AddressLiteralsAreIpv4OrTaggedIpv6) {
  for (const std::string_view good : {"[192.0.2.1]", "[IPv6:2001:db8::1]", "[ipv6:::1]"}) {
    EXPECT_TRUE(is_address_literal(good)) << good;
  }
  for (const std::string_view bad : {"[]", "[192.0.2.1", "192.0.2.1]", "[2001:db8::1]", "[IPv6:192.0.2.1]",
                                     "[x-tag:anything]", "[192.0.2.1 ]", "[host.example]"}) {
    EXPECT_FALSE(is_address_literal(bad)) << bad;
  }
}

TEST(DomainSyntax, MailDomainsFollowRfc5321Labels) {
  for (const std::string& good : {"example.org"s, "a"s, "x-1.example"s, "b\xC3\xA4r.example"s, longest_domain}) {
    EXPECT_TRUE(is_mail_domain(good)) << good;
  }
  for (const std::string& bad : {""s, "-a.example"s, "a-.example"s, "a..example"s, ".example"s, "example."s,
                                "exa_mple.org"s, "exa mple.org"s, label63 + "d.org", longest_domain + ".d"}) {
    EXPECT_FALSE(is_mail_domain(bad)) << bad;
  }
}

TEST(DomainSyntax, ClientDomainsTolerateWhatDevicesSend) {
  for (const std::string& good :
       {"mail.example.org"s, "printer"s, "DESKTOP_7QX"s, "-cam-01-"s, "192.168.1.20"s, "[192.168.1.20]"s,
        "[IPv6:fe80::1]"s, "fe80::1"s, "2001:db8::1"s, longest_domain}) {
    EXPECT_TRUE(is_client_domain(good)) << good;
  }
}

TEST(DomainSyntax, ClientDomainsNeverHoldControlBytesSpacesOrNonAscii) {
  for (const std::string& bad :
       {""s, "a\rb"s, "a\nb"s, "a\0b"s, "a\x1b[31mb"s, "a\tb"s, "a b"s, "a\x7F"s, "b\xC3\xA4r.example"s, "a..b"s,
        ".a"s, "a."s, "a@b"s, "a/b"s, "<a>"s, "(a)"s, "[192.0.2.1\r]"s, "fe80::1%eth0"s, label63 + "d", longest_domain + ".d"}) {
    EXPECT_FALSE(is_client_domain(bad)) << bad;
  }
}

}  // namespace
}  // namespace pigeon::protocol
