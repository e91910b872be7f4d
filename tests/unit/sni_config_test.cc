// sni.yaml parsing: every key of an item, and loading the file.
#include "config/sni_config.h"
#include "sni_config_helpers.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace tlsgate::config {
namespace {

using namespace sni_testing;

// ---------------------------------------------------------------- parsing

TEST(SniConfigTest, EveryKeyOfAFullItem) {
  auto c = parseOk(
      "# routing by name\n"
      "sni:\n"
      "  - fqdn: '*.Example.COM'\n"
      "    forward_route: $1.internal:{inbound_local_port}\n"
      "    ip_allow: 10.0.0.0/8, 192.168.1.1-192.168.1.9 ,::1\n"
      "    valid_tls_version_min_in: TLSv1_2\n"
      "    valid_tls_version_max_in: TLSv1_3\n"
      "    verify_client: STRICT\n"
      "    verify_client_ca_certs: ca/clients.pem\n"
      "    alpn_routes:\n"
      "      http/1.1: builtin:inspect\n"
      "      h2: '[::1]:8443'\n"
      "      x-custom: $1.grpc:{proxy_protocol_port}\n"
      "    send_proxy_protocol: v2\n");
  EXPECT_EQ(c.path, kPath);
  ASSERT_EQ(c.rules.size(), 1u);
  const SniRule& r = c.rules[0];
  EXPECT_EQ(r.line, 3);
  EXPECT_EQ(r.fqdn, "*.example.com");
  EXPECT_EQ(r.action, SniAction::kForward);
  EXPECT_EQ(r.destination, "$1.internal:{inbound_local_port}");
  ASSERT_TRUE(r.ipAllow.has_value());
  EXPECT_EQ(r.ipAllow->size(), 3u);
  EXPECT_TRUE(r.ipAllow->contains(addr("10.1.1.1")));
  EXPECT_TRUE(r.ipAllow->contains(addr("192.168.1.5")));
  EXPECT_TRUE(r.ipAllow->contains(addr("::1")));
  EXPECT_FALSE(r.ipAllow->contains(addr("192.168.1.10")));
  EXPECT_EQ(r.minVersion, TlsVersion::kTls12);
  EXPECT_EQ(r.maxVersion, TlsVersion::kTls13);
  EXPECT_EQ(r.verifyClient, VerifyClient::kStrict);
  EXPECT_EQ(r.verifyClientCaCerts, "/etc/tlsgate/ca/clients.pem");
  using Routes = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r.alpnRoutes, (Routes{{"http/1.1", "builtin:inspect"},
                                  {"h2", "[::1]:8443"},
                                  {"x-custom", "$1.grpc:{proxy_protocol_port}"}}));
  EXPECT_EQ(r.sendProxyProtocol, 2);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(SniConfigTest, AnItemWithOnlyAnFqdnHasDefaults) {
  auto c = parseOk(item("a.example.com"));
  ASSERT_EQ(c.rules.size(), 1u);
  const SniRule& r = c.rules[0];
  EXPECT_EQ(r.line, 2);
  EXPECT_EQ(r.fqdn, "a.example.com");
  EXPECT_EQ(r.action, SniAction::kNone);
  EXPECT_TRUE(r.destination.empty());
  EXPECT_FALSE(r.ipAllow.has_value());
  EXPECT_FALSE(r.minVersion.has_value());
  EXPECT_FALSE(r.maxVersion.has_value());
  EXPECT_FALSE(r.verifyClient.has_value());
  EXPECT_TRUE(r.verifyClientCaCerts.empty());
  EXPECT_TRUE(r.alpnRoutes.empty());
  EXPECT_EQ(r.sendProxyProtocol, 0);
  EXPECT_FALSE(r.verifyServerPolicy.has_value());
  EXPECT_FALSE(r.verifyServerProperties.has_value());
  EXPECT_TRUE(r.clientCert.empty());
  EXPECT_TRUE(r.clientKey.empty());
  EXPECT_FALSE(r.originSni.has_value());
  EXPECT_TRUE(r.originCaCerts.empty());
  EXPECT_FALSE(r.originAlpn.has_value());
}

TEST(SniConfigTest, EmptyFileAndEmptyListHaveNoRules) {
  for (const char* text : {"", "# nothing here\n", "sni: []\n", "sni:\n", "---\n"}) {
    auto c = parseOk(text);
    EXPECT_TRUE(c.rules.empty()) << text;
    EXPECT_EQ(c.match("a.example.com").rule, nullptr) << text;
    EXPECT_EQ(c.match("").rule, nullptr) << text;
  }
}

TEST(SniConfigTest, ItemLinesAndFileOrder) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: one.example\n"
      "    tunnel_route: one:1\n"
      "\n"
      "  - fqdn: two.example\n"
      "  -\n"
      "    fqdn: three.example\n");
  ASSERT_EQ(c.rules.size(), 3u);
  EXPECT_EQ(c.rules[0].fqdn, "one.example");
  EXPECT_EQ(c.rules[0].line, 2);
  EXPECT_EQ(c.rules[1].line, 5);
  EXPECT_EQ(c.rules[2].fqdn, "three.example");
  EXPECT_EQ(c.rules[2].line, 7);
}

TEST(SniConfigTest, FqdnForms) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: A.Example.COM\n"
      "  - fqdn: '*.Example.org'\n"
      "  - fqdn: \"*\"\n"
      "  - fqdn: ''\n"
      "  - fqdn: under_score-1.example\n"
      "  - fqdn: localhost\n");
  ASSERT_EQ(c.rules.size(), 6u);
  EXPECT_EQ(c.rules[0].fqdn, "a.example.com");
  EXPECT_EQ(c.rules[1].fqdn, "*.example.org");
  EXPECT_EQ(c.rules[2].fqdn, "*");
  EXPECT_EQ(c.rules[3].fqdn, "");
  EXPECT_EQ(c.rules[4].fqdn, "under_score-1.example");
  EXPECT_EQ(c.rules[5].fqdn, "localhost");
}

TEST(SniConfigTest, TheThreeRouteActions) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: t.example\n"
      "    tunnel_route: backend.example:443\n"
      "  - fqdn: f.example\n"
      "    forward_route: 127.0.0.1:8080\n"
      "  - fqdn: p.example\n"
      "    partial_blind_route: '[2001:db8::1]:{proxy_protocol_port}'\n");
  ASSERT_EQ(c.rules.size(), 3u);
  EXPECT_EQ(c.rules[0].action, SniAction::kTunnel);
  EXPECT_EQ(c.rules[0].destination, "backend.example:443");
  EXPECT_EQ(c.rules[1].action, SniAction::kForward);
  EXPECT_EQ(c.rules[1].destination, "127.0.0.1:8080");
  EXPECT_EQ(c.rules[2].action, SniAction::kPartialBlind);
  EXPECT_EQ(c.rules[2].destination, "[2001:db8::1]:{proxy_protocol_port}");
}

TEST(SniConfigTest, DestinationShapesThatAreAccepted) {
  for (const std::string d :
       {"h:1", "h:65535", "Backend_1.Example:8443", "10.0.0.1:{inbound_local_port}", "$1:443",
        "$1.$1.internal:{proxy_protocol_port}", "pre-$1-post.example:80", "[::1]:443",
        "[::ffff:1.2.3.4]:{inbound_local_port}"}) {
    auto c = parseOk(item("*.example.com", "    tunnel_route: '" + d + "'\n"));
    ASSERT_EQ(c.rules.size(), 1u) << d;
    EXPECT_EQ(c.rules[0].destination, d);
  }
  // "*" captures the whole name: $1 is allowed too.
  EXPECT_EQ(parseOk(item("*", "    tunnel_route: $1:443\n")).rules.size(), 1u);
}

TEST(SniConfigTest, IpAllowAsAList) {
  auto c = parseOk(item("a.example",
                        "    ip_allow:\n"
                        "      - 10.0.0.0/8\n"
                        "      - 192.168.0.1-192.168.0.3, 172.16.0.1\n"
                        "      - '2001:db8::/32'\n"));
  ASSERT_TRUE(c.rules[0].ipAllow.has_value());
  const auto& allow = *c.rules[0].ipAllow;
  EXPECT_EQ(allow.size(), 4u);
  EXPECT_TRUE(allow.contains(addr("10.2.3.4")));
  EXPECT_TRUE(allow.contains(addr("192.168.0.3")));
  EXPECT_TRUE(allow.contains(addr("172.16.0.1")));
  EXPECT_TRUE(allow.contains(addr("::ffff:172.16.0.1")));
  EXPECT_TRUE(allow.contains(addr("2001:db8::9")));
  EXPECT_FALSE(allow.contains(addr("192.168.0.4")));
  auto flow = parseOk(item("a.example", "    ip_allow: [1.2.3.4, '::1']\n"));
  EXPECT_EQ(flow.rules[0].ipAllow->size(), 2u);
}

TEST(SniConfigTest, TlsVersionsMinOnlyMaxOnlyAndEqual) {
  auto min = parseOk(item("a", "    valid_tls_version_min_in: TLSv1_3\n"));
  EXPECT_EQ(min.rules[0].minVersion, TlsVersion::kTls13);
  EXPECT_FALSE(min.rules[0].maxVersion.has_value());
  auto max = parseOk(item("a", "    valid_tls_version_max_in: TLSv1_2\n"));
  EXPECT_FALSE(max.rules[0].minVersion.has_value());
  EXPECT_EQ(max.rules[0].maxVersion, TlsVersion::kTls12);
  auto both = parseOk(item("a",
                           "    valid_tls_version_max_in: TLSv1_2\n"
                           "    valid_tls_version_min_in: TLSv1_2\n"));
  EXPECT_EQ(both.rules[0].minVersion, TlsVersion::kTls12);
  EXPECT_EQ(both.rules[0].maxVersion, TlsVersion::kTls12);
}

TEST(SniConfigTest, VerifyClientLevels) {
  EXPECT_EQ(parseOk(item("a", "    verify_client: NONE\n")).rules[0].verifyClient,
            VerifyClient::kNone);
  EXPECT_EQ(parseOk(item("a", "    verify_client: MODERATE\n")).rules[0].verifyClient,
            VerifyClient::kModerate);
  EXPECT_EQ(parseOk(item("a", "    verify_client: STRICT\n")).rules[0].verifyClient,
            VerifyClient::kStrict);
}

TEST(SniConfigTest, CaCertsResolveAgainstTheFolderOfSniYaml) {
  const std::string keys = "    verify_client: MODERATE\n    verify_client_ca_certs: ";
  EXPECT_EQ(parseOk(item("a", keys + "ca.pem\n")).rules[0].verifyClientCaCerts,
            "/etc/tlsgate/ca.pem");
  EXPECT_EQ(parseOk(item("a", keys + "/opt/ca.pem\n")).rules[0].verifyClientCaCerts, "/opt/ca.pem");
  EXPECT_EQ(parseOk(item("a", keys + "ca.pem\n"), "sni.yaml").rules[0].verifyClientCaCerts,
            "ca.pem");
  EXPECT_EQ(parseOk(item("a", keys + "ca.pem\n"), "conf/sni.yaml").rules[0].verifyClientCaCerts,
            "conf/ca.pem");
}

TEST(SniConfigTest, SendProxyProtocolVersions) {
  EXPECT_EQ(parseOk(item("a", "    send_proxy_protocol: v1\n")).rules[0].sendProxyProtocol, 1);
  EXPECT_EQ(parseOk(item("a", "    send_proxy_protocol: v2\n")).rules[0].sendProxyProtocol, 2);
}

TEST(SniConfigTest, AlpnRoutesKeepFileOrderAndAcceptLongIds) {
  const std::string longId(255, 'p');
  auto c = parseOk(item("a",
                        "    forward_route: up:80\n"
                        "    alpn_routes:\n"
                        "      zz: z:1\n"
                        "      aa: a:2\n"
                        "      " +
                            longId + ": builtin:inspect\n"));
  ASSERT_EQ(c.rules[0].alpnRoutes.size(), 3u);
  EXPECT_EQ(c.rules[0].alpnRoutes[0].first, "zz");
  EXPECT_EQ(c.rules[0].alpnRoutes[1].first, "aa");
  EXPECT_EQ(c.rules[0].alpnRoutes[2].first, longId);
  EXPECT_TRUE(parseOk(item("a", "    alpn_routes: {}\n")).rules[0].alpnRoutes.empty());
}

// S17-S19: a partial_blind_route item may override ssl.client for its origin.
TEST(SniConfigTest, OriginTlsKeysOfAPartialBlindItem) {
  auto c = parseOk(item("*.example.com",
                        "    partial_blind_route: $1.internal:443\n"
                        "    verify_server_policy: PERMISSIVE\n"
                        "    verify_server_properties: NAME\n"
                        "    client_cert: certs/client.crt\n"
                        "    client_key: /keys/client.key\n"
                        "    origin_sni: origin.internal\n"
                        "    origin_ca_certs: cas/origin.pem\n"
                        "    origin_alpn: [h2, http/1.1]\n"));
  ASSERT_EQ(c.rules.size(), 1u);
  const SniRule& r = c.rules[0];
  EXPECT_EQ(r.action, SniAction::kPartialBlind);
  EXPECT_EQ(r.verifyServerPolicy, VerifyServerPolicy::kPermissive);
  EXPECT_EQ(r.verifyServerProperties, VerifyServerProperties::kName);
  EXPECT_EQ(r.clientCert, "/etc/tlsgate/certs/client.crt");
  EXPECT_EQ(r.clientKey, "/keys/client.key");
  EXPECT_EQ(r.originSni, "origin.internal");
  EXPECT_EQ(r.originCaCerts, "/etc/tlsgate/cas/origin.pem");
  EXPECT_EQ(r.originAlpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

TEST(SniConfigTest, VerifyServerPoliciesAndProperties) {
  auto rule = [](const std::string& key) {
    return parseOk(item("a", "    partial_blind_route: o:443\n    " + key + "\n")).rules[0];
  };
  EXPECT_EQ(rule("verify_server_policy: ENFORCED").verifyServerPolicy,
            VerifyServerPolicy::kEnforced);
  EXPECT_EQ(rule("verify_server_policy: PERMISSIVE").verifyServerPolicy,
            VerifyServerPolicy::kPermissive);
  EXPECT_EQ(rule("verify_server_policy: DISABLED").verifyServerPolicy,
            VerifyServerPolicy::kDisabled);
  EXPECT_FALSE(rule("verify_server_policy: DISABLED").verifyServerProperties.has_value());
  EXPECT_EQ(rule("verify_server_properties: NONE").verifyServerProperties,
            VerifyServerProperties::kNone);
  EXPECT_EQ(rule("verify_server_properties: SIGNATURE").verifyServerProperties,
            VerifyServerProperties::kSignature);
  EXPECT_EQ(rule("verify_server_properties: NAME").verifyServerProperties,
            VerifyServerProperties::kName);
  EXPECT_EQ(rule("verify_server_properties: ALL").verifyServerProperties,
            VerifyServerProperties::kAll);
  EXPECT_FALSE(rule("verify_server_properties: ALL").verifyServerPolicy.has_value());
}

TEST(SniConfigTest, OriginSniAndClientSniPolicy) {
  const std::string route = "    partial_blind_route: o:443\n";
  // S18: server_name (ATS's choice without an HTTP layer) sends the client's SNI: no override.
  auto policy = parseOk(item("a", route + "    client_sni_policy: server_name\n"));
  EXPECT_FALSE(policy.rules[0].originSni.has_value());
  // S19: "" sends no SNI at all.
  auto none = parseOk(item("a", route + "    origin_sni: ''\n"));
  ASSERT_TRUE(none.rules[0].originSni.has_value());
  EXPECT_EQ(*none.rules[0].originSni, "");
  EXPECT_EQ(parseOk(item("a", route + "    origin_sni: O.Example\n")).rules[0].originSni,
            "O.Example");
}

TEST(SniConfigTest, ClientCertAndKeyResolveAgainstTheFolderOfSniYaml) {
  const std::string keys =
      "    partial_blind_route: o:443\n    client_cert: c.crt\n    client_key: k/c.key\n";
  auto nested = parseOk(item("a", keys), "conf/sni.yaml").rules[0];
  EXPECT_EQ(nested.clientCert, "conf/c.crt");
  EXPECT_EQ(nested.clientKey, "conf/k/c.key");
  auto bare = parseOk(item("a", keys), "sni.yaml").rules[0];
  EXPECT_EQ(bare.clientCert, "c.crt");
  EXPECT_EQ(bare.clientKey, "k/c.key");
}

TEST(SniConfigTest, OriginCaCertsResolveAgainstTheFolderOfSniYaml) {
  auto ca = [](const std::string& value, const std::string& path) {
    const std::string keys = "    partial_blind_route: o:443\n    origin_ca_certs: " + value + "\n";
    return parseOk(item("a", keys), path).rules[0].originCaCerts;
  };
  EXPECT_EQ(ca("ca.pem", kPath), "/etc/tlsgate/ca.pem");
  EXPECT_EQ(ca("cas/", kPath), "/etc/tlsgate/cas/");  // a directory of CAs
  EXPECT_EQ(ca("/etc/ssl/certs", kPath), "/etc/ssl/certs");
  EXPECT_EQ(ca("ca.pem", "conf/sni.yaml"), "conf/ca.pem");
  EXPECT_EQ(ca("ca.pem", "sni.yaml"), "ca.pem");
}

TEST(SniConfigTest, OriginAlpn) {
  auto alpn = [](const std::string& value) {
    const std::string keys = "    partial_blind_route: o:443\n    origin_alpn: " + value + "\n";
    return parseOk(item("a", keys)).rules[0].originAlpn;
  };
  // [] offers the origin no ALPN at all; absent leaves it to ssl.client.
  auto none = alpn("[]");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(alpn("[http/1.1, h2]"), (std::vector<std::string>{"http/1.1", "h2"}));
  EXPECT_EQ(alpn("\n      - " + std::string(255, 'p')),
            std::vector<std::string>{std::string(255, 'p')});
}

// ---------------------------------------------------------------- loading

TEST(SniConfigTest, LoadReadsTheFileAndResolvesAgainstItsFolder) {
  char tmpl[] = "/tmp/sni_config_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir(tmpl);
  const std::string path = (dir / "sni.yaml").string();
  std::ofstream(path) << "sni:\n"
                         "  - fqdn: a.example\n"
                         "    verify_client: STRICT\n"
                         "    verify_client_ca_certs: ca.pem\n";
  auto c = loadSniConfig(path);
  ASSERT_TRUE(c.ok()) << c.error().toString();
  EXPECT_EQ(c->path, path);
  ASSERT_EQ(c->rules.size(), 1u);
  EXPECT_EQ(c->rules[0].verifyClientCaCerts, (dir / "ca.pem").string());
  std::filesystem::remove_all(dir);
}

TEST(SniConfigTest, LoadingAMissingFileNamesIt) {
  auto r = loadSniConfig("/nonexistent/dir/sni.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, "/nonexistent/dir/sni.yaml");
  EXPECT_TRUE(contains(r.error().toString(), "/nonexistent/dir/sni.yaml: cannot read"))
      << r.error().toString();
}

}  // namespace
}  // namespace tlsgate::config
