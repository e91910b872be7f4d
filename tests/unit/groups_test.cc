// Key exchange groups: the defaults follow the library, a configured list is checked
// against it (tls/groups.h), and the configuration points at the line of a bad list.
#include "tls/groups.h"

#include <gtest/gtest.h>

#include "config/gateway_config.h"
#include "tls/ossl.h"

namespace tlsgate::tls {
namespace {

bool libraryHas(const char* group) {
  ossl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  bool ok = SSL_CTX_set1_groups_list(ctx.get(), group) == 1;
  ERR_clear_error();
  return ok;
}

TEST(GroupsTest, DefaultsPutPostQuantumFirstWhereTheLibraryHasIt) {
  const GroupDefaults& d = defaultGroups();
  EXPECT_EQ(d.postQuantum, libraryHas("X25519MLKEM768"));
  if (d.postQuantum) {
    // One tuple for ML-KEM and X25519 (no HelloRetryRequest for an X25519 key share),
    // then the NIST curves; the client sends both leading key shares.
    EXPECT_EQ(d.server, "X25519MLKEM768:X25519/P-256:P-384");
    EXPECT_EQ(d.client, "*X25519MLKEM768:*X25519:P-256:P-384");
  } else {
    EXPECT_EQ(d.server, "X25519:P-256:P-384");
    EXPECT_EQ(d.client, "X25519:P-256:P-384");
  }
  EXPECT_FALSE(usesDefaultKeyword(d.server));
  EXPECT_TRUE(checkGroups(d.server).ok());
  EXPECT_TRUE(checkGroups(d.client).ok());
}

TEST(GroupsTest, AnUnknownGroupIsNamed) {
  auto st = checkGroups("X25519:NOPE-1:P-256");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("unknown group 'NOPE-1'"), std::string::npos)
      << st.error().message;
  if (!libraryHas("X25519MLKEM768")) {
    auto pq = checkGroups("X25519MLKEM768:X25519");
    ASSERT_FALSE(pq.ok());
    EXPECT_NE(pq.error().message.find("unknown group 'X25519MLKEM768'"), std::string::npos)
        << pq.error().message;
  }
}

TEST(GroupsTest, TupleSyntaxIsCheckedAgainstTheLibrary) {
  // OpenSSL 3.5 takes tuples and prefixes; 3.0 does not, and says so.
  auto st = checkGroups("X25519/P-256");
  if (libraryHas("X25519/P-256")) {
    EXPECT_TRUE(st.ok());
  } else {
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("need OpenSSL 3.5"), std::string::npos) << st.error().message;
  }
}

TEST(GroupsTest, DefaultKeywordIsSeen) {
  EXPECT_TRUE(usesDefaultKeyword("X25519MLKEM768:DEFAULT"));
  EXPECT_TRUE(usesDefaultKeyword("*default"));
  EXPECT_FALSE(usesDefaultKeyword("X25519:P-256"));
}

TEST(GroupsTest, ConfigErrorNamesFileLineAndGroup) {
  const std::string yaml =
      "listeners:\n"
      "  - listen: 127.0.0.1:8443\n"
      "ssl:\n"
      "  multicert: ssl_multicert.config\n"
      "  groups: X25519:NOPE-1\n"
      "  client:\n"
      "    groups: NOPE-2\n"
      "routes:\n"
      "  default: builtin:inspect\n";
  auto server = config::parseGatewayConfig(yaml, "/etc/tlsgate/tlsgate.yaml");
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().file, "/etc/tlsgate/tlsgate.yaml");
  EXPECT_EQ(server.error().line, 5);
  EXPECT_NE(server.error().message.find("ssl.groups: unknown group 'NOPE-1'"), std::string::npos)
      << server.error().message;
  std::string fixed = yaml;
  fixed.replace(fixed.find("X25519:NOPE-1"), 13, "X25519");
  auto client = config::parseGatewayConfig(fixed, "/etc/tlsgate/tlsgate.yaml");
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().line, 7);
  EXPECT_NE(client.error().message.find("ssl.client.groups: unknown group 'NOPE-2'"),
            std::string::npos)
      << client.error().message;
}

}  // namespace
}  // namespace tlsgate::tls
