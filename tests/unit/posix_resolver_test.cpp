#include "hal/posix/posix_resolver.hpp"

#include <gtest/gtest.h>

namespace pigeon::hal {
namespace {

TEST(FirstNameserver, TakesTheFirstUsableNameserverLine) {
  const auto address = first_nameserver(
      "# written by the DHCP client\n"
      "search lan\n"
      "nameserver fe80::1%eth0\n"  // scoped: skipped
      "nameserver\t192.168.1.1   # the router\n"
      "nameserver 9.9.9.9\n");
  ASSERT_TRUE(address);
  EXPECT_FALSE(address->is_v6);
  EXPECT_EQ(address->bytes[0], 192);
  EXPECT_EQ(address->bytes[3], 1);
}

TEST(FirstNameserver, ReadsIpv6AndALastLineWithoutNewline) {
  const auto address = first_nameserver("options ndots:1\nnameserver ::1");
  ASSERT_TRUE(address);
  EXPECT_TRUE(address->is_v6);
  EXPECT_EQ(address->bytes[15], 1);
}

TEST(FirstNameserver, NoneWithoutANameserverLine) {
  EXPECT_FALSE(first_nameserver(""));
  EXPECT_FALSE(first_nameserver("search lan\n#nameserver 10.0.0.1\nnameservers 10.0.0.2\nnameserver bogus\n"));
}

}  // namespace
}  // namespace pigeon::hal
