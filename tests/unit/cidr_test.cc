// net::CidrSet: the client allow-list of sni.yaml's ip_allow.
#include "net/cidr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace tlsgate::net {
namespace {

Address addr(const std::string& text) {
  auto a = parseAddress(text, false);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(Address{});
}

CidrSet setOf(std::initializer_list<std::string> entries) {
  CidrSet set;
  for (const auto& e : entries) {
    auto st = set.add(e);
    EXPECT_TRUE(st.ok()) << e << ": " << (st.ok() ? "" : st.error().message);
  }
  return set;
}

std::string addError(const std::string& entry) {
  CidrSet set;
  auto st = set.add(entry);
  EXPECT_FALSE(st.ok()) << "expected an error for '" << entry << "'";
  EXPECT_TRUE(set.empty()) << entry;
  return st.ok() ? "" : st.error().message;
}

TEST(CidrSetTest, EmptySetContainsNothing) {
  CidrSet set;
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.size(), 0u);
  EXPECT_FALSE(set.contains(addr("1.2.3.4")));
  EXPECT_FALSE(set.contains(addr("::1")));
}

TEST(CidrSetTest, Ipv4Prefix) {
  auto set = setOf({"10.0.0.0/8"});
  EXPECT_FALSE(set.empty());
  EXPECT_EQ(set.size(), 1u);
  EXPECT_TRUE(set.contains(addr("10.0.0.0")));
  EXPECT_TRUE(set.contains(addr("10.1.2.3")));
  EXPECT_TRUE(set.contains(addr("10.255.255.255")));
  EXPECT_FALSE(set.contains(addr("9.255.255.255")));
  EXPECT_FALSE(set.contains(addr("11.0.0.0")));
}

TEST(CidrSetTest, Ipv4PrefixNotOnAByteBoundary) {
  auto set = setOf({"192.168.1.64/26"});
  EXPECT_FALSE(set.contains(addr("192.168.1.63")));
  EXPECT_TRUE(set.contains(addr("192.168.1.64")));
  EXPECT_TRUE(set.contains(addr("192.168.1.127")));
  EXPECT_FALSE(set.contains(addr("192.168.1.128")));
}

TEST(CidrSetTest, HostBitsAfterThePrefixAreIgnored) {
  auto set = setOf({"10.1.2.3/8"});
  EXPECT_TRUE(set.contains(addr("10.200.0.1")));
  EXPECT_TRUE(set.contains(addr("10.0.0.0")));
  EXPECT_FALSE(set.contains(addr("11.1.2.3")));
}

TEST(CidrSetTest, Ipv6Prefix) {
  auto set = setOf({"2001:db8::/32"});
  EXPECT_TRUE(set.contains(addr("2001:db8::")));
  EXPECT_TRUE(set.contains(addr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(set.contains(addr("2001:db9::")));
  EXPECT_FALSE(set.contains(addr("2001:db7:ffff::1")));
  auto odd = setOf({"2001:db8:8000::/33"});
  EXPECT_FALSE(odd.contains(addr("2001:db8:7fff::1")));
  EXPECT_TRUE(odd.contains(addr("2001:db8:8000::1")));
}

TEST(CidrSetTest, SingleAddresses) {
  auto set = setOf({"1.2.3.4", "::1"});
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(addr("1.2.3.4")));
  EXPECT_FALSE(set.contains(addr("1.2.3.5")));
  EXPECT_FALSE(set.contains(addr("1.2.3.3")));
  EXPECT_TRUE(set.contains(addr("::1")));
  EXPECT_FALSE(set.contains(addr("::2")));
  EXPECT_FALSE(set.contains(addr("::")));
}

TEST(CidrSetTest, PortIsIgnored) {
  auto set = setOf({"1.2.3.4", "2001:db8::/64"});
  EXPECT_TRUE(set.contains(addr("1.2.3.4:443")));
  EXPECT_TRUE(set.contains(addr("[2001:db8::5]:8443")));
}

TEST(CidrSetTest, AtsStyleRangeIsInclusive) {
  auto set = setOf({"1.2.3.4-1.2.3.9"});
  EXPECT_FALSE(set.contains(addr("1.2.3.3")));
  EXPECT_TRUE(set.contains(addr("1.2.3.4")));
  EXPECT_TRUE(set.contains(addr("1.2.3.7")));
  EXPECT_TRUE(set.contains(addr("1.2.3.9")));
  EXPECT_FALSE(set.contains(addr("1.2.3.10")));
}

TEST(CidrSetTest, RangeAcrossOctetsAndWithSpaces) {
  auto set = setOf({" 10.0.0.250 - 10.0.1.5 "});
  EXPECT_TRUE(set.contains(addr("10.0.0.255")));
  EXPECT_TRUE(set.contains(addr("10.0.1.0")));
  EXPECT_FALSE(set.contains(addr("10.0.1.6")));
  EXPECT_FALSE(set.contains(addr("10.0.0.249")));
}

TEST(CidrSetTest, Ipv6Range) {
  auto set = setOf({"2001:db8::10-2001:db8::1:0"});
  EXPECT_TRUE(set.contains(addr("2001:db8::10")));
  EXPECT_TRUE(set.contains(addr("2001:db8::ffff")));
  EXPECT_TRUE(set.contains(addr("2001:db8::1:0")));
  EXPECT_FALSE(set.contains(addr("2001:db8::f")));
  EXPECT_FALSE(set.contains(addr("2001:db8::1:1")));
}

TEST(CidrSetTest, SingleAddressRange) {
  auto set = setOf({"5.5.5.5-5.5.5.5"});
  EXPECT_TRUE(set.contains(addr("5.5.5.5")));
  EXPECT_FALSE(set.contains(addr("5.5.5.6")));
}

TEST(CidrSetTest, MappedClientMatchesIpv4Ranges) {
  auto set = setOf({"10.0.0.0/8", "192.168.1.1", "172.16.0.1-172.16.0.9"});
  EXPECT_TRUE(set.contains(addr("::ffff:10.1.2.3")));
  EXPECT_TRUE(set.contains(addr("::ffff:192.168.1.1")));
  EXPECT_TRUE(set.contains(addr("[::ffff:172.16.0.5]:443")));
  EXPECT_FALSE(set.contains(addr("::ffff:11.0.0.1")));
  EXPECT_FALSE(set.contains(addr("::ffff:172.16.0.10")));
  // The same bytes in a non-mapped IPv6 address are not IPv4.
  EXPECT_FALSE(set.contains(addr("::10.1.2.3")));
}

TEST(CidrSetTest, MappedEntryIsAnIpv4Entry) {
  auto set = setOf({"::ffff:10.0.0.0/104", "::ffff:1.2.3.4"});
  EXPECT_TRUE(set.contains(addr("10.9.8.7")));
  EXPECT_TRUE(set.contains(addr("::ffff:10.9.8.7")));
  EXPECT_TRUE(set.contains(addr("1.2.3.4")));
  EXPECT_FALSE(set.contains(addr("11.0.0.0")));
  auto range = setOf({"::ffff:1.1.1.1-::ffff:1.1.1.3"});
  EXPECT_TRUE(range.contains(addr("1.1.1.2")));
  EXPECT_FALSE(range.contains(addr("1.1.1.4")));
}

TEST(CidrSetTest, MappedAddressWithAPrefixShorterThan96IsAnIpv6Range) {
  auto set = setOf({"::ffff:1.2.3.4/80"});  // that is ::/80
  EXPECT_TRUE(set.contains(addr("::1")));
  EXPECT_FALSE(set.contains(addr("1.2.3.4")));
  EXPECT_FALSE(set.contains(addr("::ffff:1.2.3.4")));
}

TEST(CidrSetTest, Ipv4AndIpv6AreSeparateSpaces) {
  auto v4all = setOf({"0.0.0.0/0"});
  EXPECT_TRUE(v4all.contains(addr("0.0.0.0")));
  EXPECT_TRUE(v4all.contains(addr("255.255.255.255")));
  EXPECT_TRUE(v4all.contains(addr("::ffff:8.8.8.8")));
  EXPECT_FALSE(v4all.contains(addr("::1")));
  EXPECT_FALSE(v4all.contains(addr("2001:db8::1")));

  auto v6all = setOf({"::/0"});
  EXPECT_TRUE(v6all.contains(addr("::")));
  EXPECT_TRUE(v6all.contains(addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_TRUE(v6all.contains(addr("2001:db8::1")));
  EXPECT_FALSE(v6all.contains(addr("1.2.3.4")));
  EXPECT_FALSE(v6all.contains(addr("::ffff:1.2.3.4")));
}

TEST(CidrSetTest, EdgePrefixes32And128) {
  auto v4 = setOf({"1.2.3.4/32"});
  EXPECT_TRUE(v4.contains(addr("1.2.3.4")));
  EXPECT_FALSE(v4.contains(addr("1.2.3.5")));
  EXPECT_FALSE(v4.contains(addr("1.2.3.3")));
  auto v6 = setOf({"2001:db8::1/128"});
  EXPECT_TRUE(v6.contains(addr("2001:db8::1")));
  EXPECT_FALSE(v6.contains(addr("2001:db8::2")));
  EXPECT_FALSE(v6.contains(addr("2001:db8::")));
  auto top = setOf({"255.255.255.255/32", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"});
  EXPECT_TRUE(top.contains(addr("255.255.255.255")));
  EXPECT_TRUE(top.contains(addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(top.contains(addr("255.255.255.254")));
}

TEST(CidrSetTest, OverlappingEntriesMerge) {
  auto set = setOf({"10.1.0.0/16", "10.0.0.0/8", "9.0.0.0-10.0.0.5", "11.0.0.0/8", "10.2.0.0/16"});
  EXPECT_EQ(set.size(), 5u);  // entries as written, not merged ranges
  EXPECT_TRUE(set.contains(addr("9.0.0.0")));
  EXPECT_TRUE(set.contains(addr("10.5.5.5")));
  EXPECT_TRUE(set.contains(addr("11.255.255.255")));
  EXPECT_FALSE(set.contains(addr("12.0.0.0")));
  EXPECT_FALSE(set.contains(addr("8.255.255.255")));
}

// Many random IPv4 ranges against a linear scan: the sorted, merged search must agree.
TEST(CidrSetTest, AgreesWithALinearScan) {
  std::mt19937 rng(4242);
  auto text = [](uint32_t v) {
    in_addr a{htonl(v)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return std::string(buf);
  };
  for (int round = 0; round < 20; ++round) {
    CidrSet set;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    for (int i = 0; i < 40; ++i) {
      // A small universe (the low 12 bits vary) so that ranges overlap often.
      uint32_t lo = 0x0a000000u | (rng() & 0xfffu);
      uint32_t hi = lo + (rng() % 64);
      if (rng() % 2) {
        const unsigned prefix = 26 + rng() % 7;  // /26../32
        const uint32_t mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
        lo &= mask;
        hi = lo | ~mask;
        ASSERT_TRUE(set.add(text(lo) + "/" + std::to_string(prefix)).ok());
      } else {
        ASSERT_TRUE(set.add(text(lo) + "-" + text(hi)).ok());
      }
      ranges.emplace_back(lo, hi);
    }
    for (uint32_t v = 0x09ffff00u; v < 0x0a001100u; ++v) {
      bool expected = false;
      for (auto [lo, hi] : ranges) expected = expected || (v >= lo && v <= hi);
      ASSERT_EQ(set.contains(addr(text(v))), expected) << text(v) << " round " << round;
    }
  }
}

TEST(CidrSetTest, UnsetAddressIsNotContained) {
  auto set = setOf({"0.0.0.0/0", "::/0"});
  EXPECT_FALSE(set.contains(Address{}));
}

TEST(CidrSetTest, BadPrefixLengths) {
  EXPECT_EQ(addError("10.0.0.0/33"), "'10.0.0.0/33': prefix length must be 0..32");
  EXPECT_EQ(addError("::/129"), "'::/129': prefix length must be 0..128");
  EXPECT_EQ(addError("::ffff:1.2.3.4/129"), "'::ffff:1.2.3.4/129': prefix length must be 0..128");
  EXPECT_EQ(addError("10.0.0.0/"), "'10.0.0.0/': prefix length must be 0..32");
  EXPECT_EQ(addError("10.0.0.0/-1"), "'10.0.0.0/-1': prefix length must be 0..32");
  EXPECT_EQ(addError("10.0.0.0/8x"), "'10.0.0.0/8x': prefix length must be 0..32");
  EXPECT_EQ(addError("10.0.0.0/ 8"), "'10.0.0.0/ 8': prefix length must be 0..32");
}

TEST(CidrSetTest, BadAddresses) {
  EXPECT_EQ(addError("10.0.0/8"), "'10.0.0/8': '10.0.0' is not an IPv4 or IPv6 address");
  EXPECT_EQ(addError("hello"), "'hello': not an IPv4 or IPv6 address");
  EXPECT_EQ(addError("256.1.1.1"), "'256.1.1.1': not an IPv4 or IPv6 address");
  EXPECT_EQ(addError("[::1]"), "'[::1]': not an IPv4 or IPv6 address");
  EXPECT_EQ(addError("1.2.3.4:80"), "'1.2.3.4:80': not an IPv4 or IPv6 address");
  EXPECT_EQ(addError("example.com"), "'example.com': not an IPv4 or IPv6 address");
  EXPECT_EQ(addError(""), "empty address entry");
  EXPECT_EQ(addError("   "), "empty address entry");
}

TEST(CidrSetTest, BadRanges) {
  EXPECT_EQ(addError("1.2.3.9-1.2.3.4"), "'1.2.3.9-1.2.3.4': the range ends before it starts");
  EXPECT_EQ(addError("1.2.3.4-::1"), "'1.2.3.4-::1': a range cannot mix IPv4 and IPv6 addresses");
  EXPECT_EQ(addError("1.2.3.4-"), "'1.2.3.4-': '' is not an IPv4 or IPv6 address");
  EXPECT_EQ(addError("-1.2.3.4"), "'-1.2.3.4': '' is not an IPv4 or IPv6 address");
  EXPECT_EQ(addError("1.2.3.4-1.2.3.x"),
            "'1.2.3.4-1.2.3.x': '1.2.3.x' is not an IPv4 or IPv6 address");
}

TEST(CidrSetTest, AFailedAddLeavesTheSetAsItWas) {
  auto set = setOf({"10.0.0.0/8"});
  EXPECT_FALSE(set.add("10.0.0.0/33").ok());
  EXPECT_EQ(set.size(), 1u);
  EXPECT_TRUE(set.contains(addr("10.0.0.1")));
  EXPECT_FALSE(set.contains(addr("11.0.0.1")));
}

}  // namespace
}  // namespace tlsgate::net
