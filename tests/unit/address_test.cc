// net::Address parsing, printing and load-time resolution.
#include "net/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

namespace tlsgate::net {
namespace {

TEST(AddressTest, DefaultIsUnset) {
  Address a;
  EXPECT_FALSE(a.isSet());
  EXPECT_EQ(a.length(), 0u);
  EXPECT_EQ(a.port(), 0);
}

TEST(AddressTest, ParsesV4WithoutPort) {
  bool hasPort = true;
  auto a = parseAddress("1.2.3.4", false, &hasPort);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(hasPort);
  EXPECT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->ipString(), "1.2.3.4");
  EXPECT_EQ(a->port(), 0);
  EXPECT_EQ(a->length(), sizeof(sockaddr_in));
  EXPECT_EQ(a->ipBytes(), std::string_view("\x01\x02\x03\x04", 4));
}

TEST(AddressTest, ParsesV4WithPort) {
  bool hasPort = false;
  auto a = parseAddress("1.2.3.4:443", false, &hasPort);
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(hasPort);
  EXPECT_EQ(a->ipString(), "1.2.3.4");
  EXPECT_EQ(a->port(), 443);
}

TEST(AddressTest, ParsesV6Forms) {
  bool hasPort = true;
  auto bare = parseAddress("::1", false, &hasPort);
  ASSERT_TRUE(bare.has_value());
  EXPECT_FALSE(hasPort);
  EXPECT_EQ(bare->family(), AF_INET6);
  EXPECT_EQ(bare->ipString(), "::1");
  EXPECT_EQ(bare->length(), sizeof(sockaddr_in6));
  EXPECT_EQ(bare->ipBytes().size(), 16u);

  hasPort = true;
  auto bracketed = parseAddress("[::1]", false, &hasPort);
  ASSERT_TRUE(bracketed.has_value());
  EXPECT_FALSE(hasPort);
  EXPECT_EQ(*bracketed, *bare);

  auto withPort = parseAddress("[2001:db8::5]:8443", true, &hasPort);
  ASSERT_TRUE(withPort.has_value());
  EXPECT_TRUE(hasPort);
  EXPECT_EQ(withPort->ipString(), "2001:db8::5");
  EXPECT_EQ(withPort->port(), 8443);
}

TEST(AddressTest, PortZeroAndMaxAreAccepted) {
  auto zero = parseAddress("127.0.0.1:0", true);
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->port(), 0);
  auto max = parseAddress("127.0.0.1:65535", true);
  ASSERT_TRUE(max.has_value());
  EXPECT_EQ(max->port(), 65535);
}

TEST(AddressTest, RequirePortRejectsAddressesWithoutPort) {
  EXPECT_FALSE(parseAddress("1.2.3.4", true).has_value());
  EXPECT_FALSE(parseAddress("::1", true).has_value());
  EXPECT_FALSE(parseAddress("[::1]", true).has_value());
}

TEST(AddressTest, Rejects) {
  for (const char* bad :
       {"1.2.3.4:99999", "1.2.3.4:65536", "1.2.3.4:", "1.2.3.4:-1", "1.2.3.4:8x", "[::1", "[::1]x",
        "[::1]:", "host", "host:80", "localhost", "", "1.2.3", "256.1.1.1", ":80"}) {
    EXPECT_FALSE(parseAddress(bad, false).has_value()) << bad;
  }
}

TEST(AddressTest, ToStringRoundTrips) {
  for (const char* text : {"1.2.3.4:80", "127.0.0.1:0", "[::1]:443", "[2001:db8::1]:65535"}) {
    auto a = parseAddress(text, true);
    ASSERT_TRUE(a.has_value()) << text;
    EXPECT_EQ(a->toString(), text);
    auto again = parseAddress(a->toString(), true);
    ASSERT_TRUE(again.has_value()) << text;
    EXPECT_EQ(*again, *a);
  }
}

TEST(AddressTest, EqualityComparesFamilyAddressAndPort) {
  EXPECT_EQ(*parseAddress("10.0.0.1:1", true), *parseAddress("10.0.0.1:1", true));
  EXPECT_FALSE(*parseAddress("10.0.0.1:1", true) == *parseAddress("10.0.0.1:2", true));
  EXPECT_FALSE(*parseAddress("10.0.0.1:1", true) == *parseAddress("10.0.0.2:1", true));
  EXPECT_FALSE(*parseAddress("[::ffff:10.0.0.1]:1", true) == *parseAddress("10.0.0.1:1", true));
}

TEST(AddressTest, SetPortAndSockaddrRoundTrip) {
  auto a = parseAddress("[::1]", false);
  ASSERT_TRUE(a.has_value());
  a->setPort(8080);
  EXPECT_EQ(a->port(), 8080);
  auto copy = Address::fromSockaddr(a->sockaddrPtr(), a->length());
  EXPECT_EQ(copy, *a);
  EXPECT_EQ(copy.toString(), "[::1]:8080");
}

TEST(AddressTest, ResolveLiteral) {
  auto r = resolveHostPort("127.0.0.1:9");
  ASSERT_TRUE(r.ok()) << r.error().toString();
  EXPECT_EQ(r->toString(), "127.0.0.1:9");
  auto v6 = resolveHostPort("[::1]:9");
  ASSERT_TRUE(v6.ok()) << v6.error().toString();
  EXPECT_EQ(v6->toString(), "[::1]:9");
}

TEST(AddressTest, ResolveRejectsMissingOrBadPort) {
  for (const char* bad :
       {"localhost", "localhost:", "localhost:http", "localhost:70000", ":80", ""}) {
    auto r = resolveHostPort(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("is not host:port"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace tlsgate::net
