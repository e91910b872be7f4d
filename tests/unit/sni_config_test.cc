// sni.yaml: parsing, file:line errors, first-match lookup and destination expansion.
#include "config/sni_config.h"

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

const std::string kPath = "/etc/tlsgate/sni.yaml";

SniConfig parseOk(std::string_view text, const std::string& path = kPath) {
  auto r = parseSniConfig(text, path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().toString());
  return r.ok() ? std::move(r.value()) : SniConfig{};
}

Error parseFail(std::string_view text, const std::string& path = kPath) {
  auto r = parseSniConfig(text, path);
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  return r.ok() ? Error{} : r.error();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// One item, its keys on lines 3.. ("sni:" is line 1, "- fqdn: ..." line 2).
std::string item(const std::string& fqdn, const std::string& keys = "") {
  return "sni:\n  - fqdn: '" + fqdn + "'\n" + keys;
}

// A second item, b.example, on line 3, after one for a.example; its keys start on line 4.
std::string secondItem(const std::string& keys) {
  return "sni:\n  - fqdn: a.example\n  - fqdn: b.example\n" + keys;
}

// The match for `sni`, as the fqdn of the chosen rule ("<none>" when nothing matched).
std::string matchedFqdn(const SniConfig& config, std::string_view sni) {
  auto m = config.match(sni);
  return m.rule ? m.rule->fqdn : "<none>";
}

net::Address addr(const std::string& text) {
  return net::parseAddress(text, false).value_or(net::Address{});
}

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

// ---------------------------------------------------------------- errors, with their line

struct ErrorCase {
  std::string text;
  int line;
  std::string message;  // the exact message
};

void expectErrors(const std::vector<ErrorCase>& cases) {
  for (const auto& c : cases) {
    auto err = parseFail(c.text);
    EXPECT_EQ(err.file, kPath) << c.text;
    EXPECT_EQ(err.line, c.line) << c.text << "\n" << err.toString();
    EXPECT_EQ(err.message, c.message) << c.text;
  }
}

TEST(SniConfigTest, AtsKeysThatTlsgateDoesNotSupport) {
  for (const std::string key : {"host_sni_policy",
                                "http2",
                                "http2_buffer_water_mark",
                                "http2_initial_window_size_in",
                                "http2_max_settings_frames_per_minute",
                                "http2_max_ping_frames_per_minute",
                                "http2_max_priority_frames_per_minute",
                                "http2_max_rst_stream_frames_per_minute",
                                "http2_max_continuation_frames_per_minute",
                                "http2_max_empty_frames_per_minute",
                                "tunnel_alpn",
                                "tunnel_prewarm",
                                "tunnel_prewarm_srv",
                                "tunnel_prewarm_rate",
                                "tunnel_prewarm_min",
                                "tunnel_prewarm_max",
                                "tunnel_prewarm_connect_timeout",
                                "tunnel_prewarm_inactive_timeout",
                                "server_max_early_data",
                                "inbound_port_ranges",
                                "valid_tls_versions_in",
                                "quic",
                                "server_cipher_suite",
                                "server_TLSv1_3_cipher_suites",
                                "server_group_list"}) {
    expectErrors({{item("a.example", "    verify_client: NONE\n    " + key + ": x\n"), 4,
                   "'" + key + "' is an ATS sni.yaml key that tlsgate does not support"}});
  }
}

TEST(SniConfigTest, UnknownKeysListTheSupportedOnes) {
  const std::string supported =
      " (expected one of: fqdn, tunnel_route, forward_route, partial_blind_route, ip_allow, "
      "valid_tls_version_min_in, valid_tls_version_max_in, verify_client, "
      "verify_client_ca_certs, alpn_routes, send_proxy_protocol, verify_server_policy, "
      "verify_server_properties, client_cert, client_key, client_sni_policy, origin_sni, "
      "origin_ca_certs, origin_alpn, ssl_ticket_enabled, ssl_ticket_number)";
  expectErrors({
      {item("a", "    tunel_route: x:1\n"), 3, "unknown key 'tunel_route' in sni item" + supported},
      {"sni:\n  - tunnel_route: x:1\n    FQDN: a\n", 3,
       "unknown key 'FQDN' in sni item" + supported},
      {"# c\nsni: []\nip_allow: 1.2.3.4\n", 3, "unknown key 'ip_allow' (expected one of: sni)"},
  });
}

TEST(SniConfigTest, StructureErrors) {
  expectErrors({
      {"- fqdn: a\n", 1, "the file must be a mapping, got a sequence"},
      {"sni: a.example\n", 1, "sni must be a sequence of items (- fqdn: ...), got 'a.example'"},
      {"sni:\n  fqdn: a\n", 2, "sni must be a sequence of items (- fqdn: ...), got a mapping"},
      {"sni:\n  - fqdn: a\n  - just-a-name\n", 3, "sni item must be a mapping, got 'just-a-name'"},
      {"sni:\n  - fqdn: a\n  - tunnel_route: b:1\n", 3, "sni item: missing required key 'fqdn'"},
      {"sni:\n  - fqdn: a\n    fqdn: b\n", 3, "duplicate key 'fqdn' in sni item"},
      {item("a", "    verify_client: NONE\n    verify_client: STRICT\n"), 4,
       "duplicate key 'verify_client' in sni item"},
      {"sni: []\nsni: []\n", 2, "duplicate key 'sni'"},
      {"sni:\n  - fqdn: [a, b]\n", 2, "fqdn must be a string, got a sequence"},
      {"sni:\n  - fqdn:\n", 2, "fqdn must be a string, got nothing"},
      {"sni:\n  - fqdn: a\n    [x]: 1\n", 3, "keys in sni item must be strings, got a sequence"},
  });
}

TEST(SniConfigTest, UnquotedWildcardIsAYamlAliasAndTheErrorSaysSo) {
  auto err = parseFail("sni:\n  - fqdn: a\n  - fqdn: *.example.com\n");
  EXPECT_EQ(err.line, 3) << err.toString();
  EXPECT_TRUE(contains(err.message, "invalid YAML")) << err.message;
  EXPECT_TRUE(contains(err.message, "fqdn: '*.example.com'")) << err.message;
  auto broken = parseFail("sni:\n  - fqdn: a\n   bad: [\n");
  EXPECT_TRUE(contains(broken.message, "invalid YAML")) << broken.message;
  EXPECT_FALSE(contains(broken.message, "quoted")) << broken.message;
}

TEST(SniConfigTest, BadFqdns) {
  const std::string wildcard =
      ": a wildcard must be the whole left-most label ('*.example.com') or the whole name ('*')";
  expectErrors({
      {item("bar.*.example.net"), 2, "fqdn 'bar.*.example.net'" + wildcard},
      {item("*.bar.*.com"), 2, "fqdn '*.bar.*.com'" + wildcard},
      {item("*.*.baz.com"), 2, "fqdn '*.*.baz.com'" + wildcard},
      {item("baz*.example.net"), 2, "fqdn 'baz*.example.net'" + wildcard},
      {item("*baz.example.net"), 2, "fqdn '*baz.example.net'" + wildcard},
      {item("b*z.example.net"), 2, "fqdn 'b*z.example.net'" + wildcard},
      {item("**"), 2, "fqdn '**'" + wildcard},
      {item("*."), 2, "fqdn '*.': has an empty label"},
      {item("a..example"), 2, "fqdn 'a..example': has an empty label"},
      {item(".example"), 2, "fqdn '.example': has an empty label"},
      {item("example."), 2, "fqdn 'example.': has an empty label"},
      {item("a b.example"), 2, "fqdn 'a b.example': contains ' '"},
      {item("foo[0-9]+.example"), 2, "fqdn 'foo[0-9]+.example': contains '['"},
      {item(std::string(64, 'x') + ".example"), 2,
       "fqdn '" + std::string(64, 'x') + ".example': has a label longer than 63 characters"},
      {item(std::string(250, 'x') + ".example"), 2,
       "fqdn '" + std::string(250, 'x') + ".example': is longer than 253 characters"},
  });
}

TEST(SniConfigTest, BadDestinations) {
  auto route = [](const std::string& fqdn, const std::string& d) {
    return item(fqdn, "    ip_allow: 1.2.3.4\n    tunnel_route: '" + d + "'\n");
  };
  const std::string portRule = " must be 1..65535, {inbound_local_port} or {proxy_protocol_port}";
  expectErrors({
      {route("a", "backend"), 4, "tunnel_route 'backend': needs a port: host:port"},
      {route("a", "backend:"), 4, "tunnel_route 'backend:': port ''" + portRule},
      {route("a", "backend:0"), 4, "tunnel_route 'backend:0': port '0'" + portRule},
      {route("a", "backend:65536"), 4, "tunnel_route 'backend:65536': port '65536'" + portRule},
      {route("a", "backend:https"), 4, "tunnel_route 'backend:https': port 'https'" + portRule},
      {route("a", "backend:{port}"), 4, "tunnel_route 'backend:{port}': port '{port}'" + portRule},
      {route("*.a", "backend:$1"), 4, "tunnel_route 'backend:$1': port '$1'" + portRule},
      {route("a", ":443"), 4, "tunnel_route ':443': has no host (host:port)"},
      {route("a", "::1:443"), 4,
       "tunnel_route '::1:443': an IPv6 address must be written in brackets: [address]:port"},
      {route("a", "[::1]"), 4, "tunnel_route '[::1]': needs a port: [address]:port"},
      {route("a", "[::1:443"), 4, "tunnel_route '[::1:443': has '[' without ']'"},
      {route("a", "[nope]:443"), 4,
       "tunnel_route '[nope]:443': 'nope' in brackets is not an IPv6 address"},
      {route("a", "bad/host:443"), 4, "tunnel_route 'bad/host:443': contains '/' in its host"},
      {route("a", "{inbound_local_port}:443"), 4,
       "tunnel_route '{inbound_local_port}:443': {...} port tokens may only stand for the port"},
      {route("a", "$1.x:443"), 4,
       "tunnel_route '$1.x:443': uses $1 but fqdn 'a' has no wildcard to capture it"},
      {route("*.a", "$2.x:443"), 4,
       "tunnel_route '$2.x:443': uses $2 but fqdn '*.a' captures only $1"},
      {route("*", "$1$2:443"), 4, "tunnel_route '$1$2:443': uses $2 but fqdn '*' captures only $1"},
      {route("*.a", "$0.x:443"), 4,
       "tunnel_route '$0.x:443': '$' must be followed by a capture number 1..9"},
      {route("*.a", "x$:443"), 4,
       "tunnel_route 'x$:443': '$' must be followed by a capture number 1..9"},
      {item("a", "    forward_route: [a, b]\n"), 3,
       "forward_route must be a string, got a sequence"},
  });
}

TEST(SniConfigTest, AtMostOneRoute) {
  expectErrors({
      {item("a",
            "    tunnel_route: a:1\n"
            "    verify_client: NONE\n"
            "    forward_route: b:2\n"),
       5,
       "an item takes at most one of tunnel_route, forward_route and partial_blind_route; this "
       "one already has tunnel_route"},
      {item("a", "    partial_blind_route: a:1\n    forward_route: b:2\n"), 4,
       "an item takes at most one of tunnel_route, forward_route and partial_blind_route; this "
       "one already has partial_blind_route"},
  });
}

TEST(SniConfigTest, BadIpAllow) {
  expectErrors({
      {item("a", "    ip_allow: 10.0.0.0/33\n"), 3,
       "ip_allow: '10.0.0.0/33': prefix length must be 0..32"},
      {item("a", "    ip_allow: 1.2.3.4,,5.6.7.8\n"), 3, "ip_allow: empty address entry"},
      {item("a", "    ip_allow:\n      - 1.2.3.4\n      - 1.2.3.4/8, nope\n"), 5,
       "ip_allow: 'nope': not an IPv4 or IPv6 address"},
      {item("a", "    ip_allow:\n      - 1.2.3.4\n      - [5.6.7.8]\n"), 5,
       "ip_allow entries must be strings, got a sequence"},
      {item("a", "    ip_allow: '@ip_dir/example.com.ip.txt'\n"), 3,
       "ip_allow: the '@file' form is not supported; list the addresses in sni.yaml"},
      {item("a", "    ip_allow: []\n"), 3,
       "ip_allow is empty: it would refuse every client (remove the key to allow every client)"},
      {item("a", "    ip_allow: ''\n"), 3,
       "ip_allow is empty: it would refuse every client (remove the key to allow every client)"},
      {item("a", "    ip_allow:\n      - 1.2.3.4\n      - ''\n"), 5,
       "ip_allow: empty address entry"},
      {item("a", "    ip_allow: {a: b}\n"), 3,
       "ip_allow must be a list of addresses or ranges, got a mapping"},
  });
}

TEST(SniConfigTest, BadTlsVersions) {
  const std::string notSupported = " is not supported (tlsgate supports TLSv1_2 and TLSv1_3)";
  expectErrors({
      {item("a", "    valid_tls_version_min_in: TLSv1\n"), 3,
       "valid_tls_version_min_in: 'TLSv1'" + notSupported},
      {item("a", "    valid_tls_version_max_in: TLSv1_1\n"), 3,
       "valid_tls_version_max_in: 'TLSv1_1'" + notSupported},
      {item("a", "    valid_tls_version_min_in: TLSv1.2\n"), 3,
       "valid_tls_version_min_in must be TLSv1_2 or TLSv1_3, got 'TLSv1.2'"},
      {item("a", "    valid_tls_version_max_in: [TLSv1_3]\n"), 3,
       "valid_tls_version_max_in must be a string, got a sequence"},
      {item("a",
            "    valid_tls_version_min_in: TLSv1_3\n"
            "    ip_allow: 1.2.3.4\n"
            "    valid_tls_version_max_in: TLSv1_2\n"),
       5, "valid_tls_version_min_in TLSv1_3 is above valid_tls_version_max_in TLSv1_2"},
      {item("a",
            "    valid_tls_version_max_in: TLSv1_2\n"
            "    valid_tls_version_min_in: TLSv1_3\n"),
       4, "valid_tls_version_min_in TLSv1_3 is above valid_tls_version_max_in TLSv1_2"},
  });
}

TEST(SniConfigTest, BadClientVerification) {
  expectErrors({
      {item("a", "    verify_client: strict\n"), 3,
       "verify_client must be NONE, MODERATE or STRICT, got 'strict'"},
      {item("a", "    verify_client_ca_certs: ca.pem\n"), 3,
       "verify_client_ca_certs needs verify_client in the item"},
      {item("a", "    verify_client_ca_certs: ca.pem\n    verify_client: NONE\n"), 4,
       "verify_client_ca_certs needs verify_client MODERATE or STRICT (NONE requests no client "
       "certificate)"},
      {item("a", "    verify_client: STRICT\n    verify_client_ca_certs: ''\n"), 4,
       "verify_client_ca_certs must name a file"},
      {item("a",
            "    verify_client: STRICT\n"
            "    verify_client_ca_certs:\n"
            "      file: ca.pem\n"),
       5, "verify_client_ca_certs: the {file, dir} form is not supported; name one CA file"},
  });
}

TEST(SniConfigTest, BadAlpnRoutes) {
  const std::string longId(256, 'p');
  expectErrors({
      {item("a", "    alpn_routes: [h2]\n"), 3,
       "alpn_routes must be a mapping of protocol: destination, got a sequence"},
      {item("a", "    alpn_routes:\n      h2: up:1\n      '': up:2\n"), 5,
       "alpn_routes protocol '' must be 1 to 255 bytes"},
      {item("a", "    alpn_routes:\n      " + longId + ": up:1\n"), 4,
       "alpn_routes protocol '" + longId + "' must be 1 to 255 bytes"},
      {item("a", "    alpn_routes:\n      h2: up:1\n      h2: up:2\n"), 5,
       "alpn_routes lists protocol 'h2' twice"},
      {item("a", "    alpn_routes:\n      h2:\n        - up:1\n"), 5,
       "alpn_routes target for 'h2' must be a string, got a sequence"},
      {item("a", "    alpn_routes:\n      h2: builtin:echo\n"), 4,
       "unknown built-in endpoint 'builtin:echo' (known: builtin:inspect)"},
      {item("a", "    alpn_routes:\n      h2: up\n"), 4,
       "alpn_routes target 'up': needs a port: host:port"},
      {item("a", "    alpn_routes:\n      h2: $1.up:1\n"), 4,
       "alpn_routes target '$1.up:1': uses $1 but fqdn 'a' has no wildcard to capture it"},
      {item("a", "    alpn_routes:\n      h2: up:1\n    tunnel_route: t:1\n"), 5,
       "alpn_routes cannot be used with tunnel_route: a tunnelled connection is not terminated, "
       "so no protocol is negotiated"},
  });
}

TEST(SniConfigTest, BadSendProxyProtocol) {
  expectErrors({
      {item("a", "    send_proxy_protocol: v3\n"), 3,
       "send_proxy_protocol must be v1 or v2, got 'v3'"},
      {item("a", "    send_proxy_protocol: 1\n"), 3,
       "send_proxy_protocol must be v1 or v2, got '1'"},
  });
}

TEST(SniConfigTest, BadOriginTlsValues) {
  const std::string route = "    partial_blind_route: o:443\n";
  expectErrors({
      {item("a", route + "    verify_server_policy: enforced\n"), 4,
       "verify_server_policy must be ENFORCED, PERMISSIVE or DISABLED, got 'enforced'"},
      {item("a", route + "    verify_server_policy: [ENFORCED]\n"), 4,
       "verify_server_policy must be a string, got a sequence"},
      {item("a", route + "    verify_server_properties: BOTH\n"), 4,
       "verify_server_properties must be NONE, SIGNATURE, NAME or ALL, got 'BOTH'"},
      {item("a", route + "    verify_server_properties:\n"), 4,
       "verify_server_properties must be a string, got nothing"},
      {item("a", route + "    client_cert: ''\n    client_key: k.pem\n"), 4,
       "client_cert must name a file"},
      {item("a", route + "    client_cert: c.pem\n    client_key:\n      file: k.pem\n"), 6,
       "client_key must be a string, got a mapping"},
      {item("a", route + "    origin_sni: [a, b]\n"), 4,
       "origin_sni must be a string, got a sequence"},
      {item("a", route + "    origin_sni:\n"), 4, "origin_sni must be a string, got nothing"},
      {item("a", route + "    client_sni_policy: [server_name]\n"), 4,
       "client_sni_policy must be a string, got a sequence"},
      {item("a", route + "    origin_ca_certs: ''\n"), 4,
       "origin_ca_certs must name a file or a directory"},
      {item("a", route + "    origin_ca_certs: [a.pem, b.pem]\n"), 4,
       "origin_ca_certs must be a string, got a sequence"},
      {item("a", route + "    origin_ca_certs:\n      file: ca.pem\n"), 5,
       "origin_ca_certs must be a string, got a mapping"},
  });
}

TEST(SniConfigTest, OriginAlpnHasTheChecksOfSslAlpn) {
  const std::string route = "    partial_blind_route: o:443\n";  // line 3
  expectErrors({
      {item("a", route + "    origin_alpn:\n      - h2\n      - http/1.1\n      - h2\n"), 7,
       "origin_alpn lists 'h2' twice"},
      {item("a", route + "    origin_alpn:\n      - ''\n"), 5,
       "origin_alpn entry '' must be 1 to 255 bytes long"},
      {item("a", route + "    origin_alpn: [" + std::string(256, 'p') + "]\n"), 4,
       "origin_alpn entry '" + std::string(256, 'p') + "' must be 1 to 255 bytes long"},
      {item("a", route + "    origin_alpn: h2\n"), 4,
       "origin_alpn must be a sequence of protocol names, got 'h2'"},
      {item("a", route + "    origin_alpn:\n"), 4,
       "origin_alpn must be a sequence of protocol names, got nothing"},
      {item("a", route + "    origin_alpn:\n      - [h2]\n"), 5,
       "origin_alpn entries must be strings, got a sequence"},
  });
}

TEST(SniConfigTest, ClientSniPolicyIsServerNameOnly) {
  const std::string why =
      " is not supported: tlsgate has no HTTP layer, so only server_name (the client's SNI) is";
  for (const std::string policy : {"host", "remap", "@server_name", "SERVER_NAME", ""}) {
    expectErrors(
        {{item("a", "    partial_blind_route: o:443\n    client_sni_policy: '" + policy + "'\n"), 4,
          "client_sni_policy '" + policy + "'" + why}});
  }
}

TEST(SniConfigTest, ClientCertAndKeyComeTogetherAtTheItemsLine) {
  expectErrors({
      {secondItem("    partial_blind_route: o:443\n    client_cert: c.pem\n"), 3,
       "client_cert needs client_key in the item"},
      {secondItem("    client_key: k.pem\n    partial_blind_route: o:443\n"), 3,
       "client_key needs client_cert in the item"},
  });
}

TEST(SniConfigTest, OriginTlsKeysNeedPartialBlindRoute) {
  const std::string why =
      " applies to partial_blind_route only (the one route that speaks TLS to "
      "the origin)";
  for (const std::string key :
       {"verify_server_policy: ENFORCED", "verify_server_properties: ALL", "client_cert: c.pem",
        "client_key: k.pem", "client_sni_policy: server_name", "origin_sni: o.example",
        "origin_ca_certs: ca.pem", "origin_alpn: [h2]", "origin_alpn: []"}) {
    const std::string name = key.substr(0, key.find(':'));
    for (const std::string route : {"", "    tunnel_route: t:443\n", "    forward_route: f:80\n"}) {
      // At the item's line, whether the route comes before the key or not at all.
      expectErrors({{secondItem(route + "    " + key + "\n"), 3, name + why}});
    }
  }
  // Several: the first in file order is named.
  expectErrors({{secondItem("    origin_sni: o\n    verify_server_policy: DISABLED\n"), 3,
                 "origin_sni" + why}});
}

TEST(SniConfigTest, OriginSniAndClientSniPolicyConflict) {
  const std::string message =
      "origin_sni and client_sni_policy cannot both be set: client_sni_policy server_name sends "
      "the client's SNI, origin_sni sends the name it gives";
  expectErrors({
      {item("a",
            "    origin_sni: o.example\n"
            "    partial_blind_route: o:443\n"
            "    client_sni_policy: server_name\n"),
       5, message},
      {item("a",
            "    client_sni_policy: server_name\n"
            "    origin_sni: ''\n"
            "    partial_blind_route: o:443\n"),
       4, message},
  });
}

TEST(SniConfigTest, ErrorsPrintAsFileLineMessage) {
  auto err = parseFail(item("a", "    verify_client: maybe\n"));
  EXPECT_EQ(err.toString(),
            kPath + ":3: verify_client must be NONE, MODERATE or STRICT, got 'maybe'");
}

// ---------------------------------------------------------------- matching

TEST(SniConfigTest, ExactNameIgnoresCase) {
  auto c = parseOk("sni:\n  - fqdn: A.Example.com\n");
  EXPECT_EQ(matchedFqdn(c, "a.example.com"), "a.example.com");
  EXPECT_EQ(matchedFqdn(c, "A.EXAMPLE.COM"), "a.example.com");
  EXPECT_EQ(matchedFqdn(c, "b.example.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.example.co"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.example.com.x"), "<none>");
  EXPECT_EQ(matchedFqdn(c, ""), "<none>");
  EXPECT_TRUE(c.match("a.example.com").captures.empty());
}

TEST(SniConfigTest, WildcardMatchesExactlyOneLabel) {
  auto c = parseOk("sni:\n  - fqdn: '*.example.com'\n");
  auto m = c.match("a.example.com");
  ASSERT_NE(m.rule, nullptr);
  EXPECT_EQ(m.rule, &c.rules[0]);
  EXPECT_EQ(m.captures, std::vector<std::string>{"a"});
  EXPECT_EQ(c.match("WWW.Example.COM").captures, std::vector<std::string>{"www"});
  EXPECT_EQ(matchedFqdn(c, "example.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.b.example.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, ".example.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "aexample.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.example.org"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.example.com."), "<none>");
  EXPECT_EQ(matchedFqdn(c, ""), "<none>");
}

TEST(SniConfigTest, EarlierWildcardBeatsLaterExactName) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: '*.example.com'\n"
      "    tunnel_route: wild:1\n"
      "  - fqdn: a.example.com\n"
      "    tunnel_route: exact:1\n");
  auto m = c.match("a.example.com");
  ASSERT_NE(m.rule, nullptr);
  EXPECT_EQ(m.rule->destination, "wild:1");
  EXPECT_EQ(m.captures, std::vector<std::string>{"a"});
  ASSERT_EQ(c.warnings.size(), 1u);  // the exact item can never win
  EXPECT_EQ(c.warnings[0].line, 4);
  EXPECT_EQ(c.warnings[0].message,
            "the item for fqdn 'a.example.com' is never used: the item at line 2 (fqdn "
            "'*.example.com') matches first");
}

TEST(SniConfigTest, EarlierExactNameBeatsLaterWildcard) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: a.example.com\n"
      "    tunnel_route: exact:1\n"
      "  - fqdn: '*.example.com'\n"
      "    tunnel_route: wild:1\n");
  auto exact = c.match("A.example.com");
  ASSERT_NE(exact.rule, nullptr);
  EXPECT_EQ(exact.rule->destination, "exact:1");
  EXPECT_TRUE(exact.captures.empty());
  auto wild = c.match("b.example.com");
  ASSERT_NE(wild.rule, nullptr);
  EXPECT_EQ(wild.rule->destination, "wild:1");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(SniConfigTest, FirstOfTwoItemsWithTheSameFqdnWins) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: a.example\n"
      "    forward_route: first:1\n"
      "  - fqdn: A.EXAMPLE\n"
      "    forward_route: second:1\n"
      "  - fqdn: '*.x'\n"
      "  - fqdn: '*.X'\n");
  EXPECT_EQ(c.rules.size(), 4u);
  EXPECT_EQ(c.match("a.example").rule->destination, "first:1");
  EXPECT_EQ(c.match("q.x").rule, &c.rules[2]);
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0].file, kPath);
  EXPECT_EQ(c.warnings[0].line, 4);
  EXPECT_EQ(c.warnings[1].line, 7);
}

TEST(SniConfigTest, StarMatchesEveryNameAndNoName) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: a.example\n"
      "  - fqdn: '*'\n"
      "    tunnel_route: $1:443\n"
      "  - fqdn: b.example\n"
      "  - fqdn: ''\n");
  EXPECT_EQ(matchedFqdn(c, "a.example"), "a.example");
  EXPECT_EQ(matchedFqdn(c, "b.example"), "*");  // "*" is earlier
  EXPECT_EQ(matchedFqdn(c, "anything.at.all"), "*");
  EXPECT_EQ(matchedFqdn(c, ""), "*");
  EXPECT_EQ(c.match("Some.Name").captures, std::vector<std::string>{"some.name"});
  EXPECT_TRUE(c.match("").captures.empty());
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0].line, 5);
  EXPECT_EQ(c.warnings[1].line, 6);
}

TEST(SniConfigTest, EmptyFqdnMatchesOnlyConnectionsWithoutSni) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: ''\n"
      "    forward_route: nosni:1\n"
      "  - fqdn: '*'\n"
      "    forward_route: any:1\n");
  EXPECT_EQ(c.match("").rule->destination, "nosni:1");
  EXPECT_EQ(c.match("a.example").rule->destination, "any:1");
  auto onlyEmpty = parseOk("sni:\n  - fqdn: ''\n");
  EXPECT_EQ(matchedFqdn(onlyEmpty, ""), "");
  EXPECT_EQ(matchedFqdn(onlyEmpty, "a"), "<none>");
}

TEST(SniConfigTest, TheLowestIndexWinsAmongExactWildcardAndStar) {
  // Each candidate kind in each position: the first in file order wins.
  const std::vector<std::string> kinds = {"a.b.example", "'*.b.example'", "'*'"};
  std::vector<int> order = {0, 1, 2};
  do {
    std::string text = "sni:\n";
    for (int k : order) text += "  - fqdn: " + kinds[k] + "\n";
    auto c = parseOk(text);
    auto m = c.match("a.b.example");
    ASSERT_NE(m.rule, nullptr) << text;
    EXPECT_EQ(m.rule, &c.rules[0]) << text;
  } while (std::next_permutation(order.begin(), order.end()));
}

SniRule ruleAt(int line, const std::string& fqdn) {
  SniRule r;
  r.line = line;
  r.fqdn = fqdn;
  return r;
}

TEST(SniConfigTest, HandBuiltRulesAndReindexing) {
  SniConfig c;
  c.rules.push_back(ruleAt(1, "*.Example.com"));
  c.rules.push_back(ruleAt(2, "Exact.example.com"));
  c.index();
  EXPECT_EQ(c.match("exact.EXAMPLE.com").rule, &c.rules[0]);
  std::swap(c.rules[0], c.rules[1]);
  c.index();
  EXPECT_EQ(c.match("exact.example.com").rule->line, 2);
  EXPECT_EQ(c.match("other.example.com").rule->line, 1);
  c.rules.clear();
  c.index();
  EXPECT_EQ(c.match("exact.example.com").rule, nullptr);
}

TEST(SniConfigTest, ACopyMatchesIntoItsOwnRules) {
  auto original = parseOk("sni:\n  - fqdn: a.example\n  - fqdn: '*.example'\n");
  SniConfig copy = original;
  EXPECT_EQ(copy.match("a.example").rule, &copy.rules[0]);
  EXPECT_EQ(copy.match("b.example").rule, &copy.rules[1]);
}

TEST(SniConfigTest, ManyRulesLookUpByIndex) {
  std::string text = "sni:\n";
  for (int i = 0; i < 2000; ++i) {
    text += "  - fqdn: host" + std::to_string(i) + ".example\n";
    text += "  - fqdn: '*.zone" + std::to_string(i) + ".example'\n";
  }
  auto c = parseOk(text);
  ASSERT_EQ(c.rules.size(), 4000u);
  EXPECT_EQ(c.match("HOST1999.example").rule, &c.rules[3998]);
  auto m = c.match("x.zone1234.example");
  EXPECT_EQ(m.rule, &c.rules[2469]);
  EXPECT_EQ(m.captures, std::vector<std::string>{"x"});
  EXPECT_EQ(c.match("host2000.example").rule, nullptr);
  EXPECT_TRUE(c.warnings.empty());
}

// ---------------------------------------------------------------- expandDestination

TEST(SniConfigTest, ExpandCapturesAndPorts) {
  const std::vector<std::string> caps = {"app"};
  DestinationContext ctx{&caps, 8443, 9443};
  EXPECT_EQ(*expandDestination("$1.internal:443", ctx), "app.internal:443");
  EXPECT_EQ(*expandDestination("$1-$1.internal:{inbound_local_port}", ctx),
            "app-app.internal:8443");
  EXPECT_EQ(*expandDestination("backend:{proxy_protocol_port}", ctx), "backend:9443");
  EXPECT_EQ(*expandDestination("[::1]:{inbound_local_port}", ctx), "[::1]:8443");
  EXPECT_EQ(*expandDestination("plain:80", DestinationContext{nullptr, 0, 0}), "plain:80");
}

TEST(SniConfigTest, ExpandErrors) {
  const std::vector<std::string> one = {"app"};
  auto err = [](std::string_view pattern, const DestinationContext& ctx) {
    auto r = expandDestination(pattern, ctx);
    EXPECT_FALSE(r.ok()) << pattern;
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_EQ(err("$2.x:1", {&one, 1, 1}),
            "destination '$2.x:1': $2 but the server name gave 1 capture(s)");
  EXPECT_EQ(err("$1.x:1", {nullptr, 1, 1}),
            "destination '$1.x:1': $1 but the server name gave 0 capture(s)");
  EXPECT_EQ(err("x:{inbound_local_port}", {&one, 0, 1}),
            "destination 'x:{inbound_local_port}': {inbound_local_port} is not known for this "
            "connection");
  EXPECT_EQ(err("x:{proxy_protocol_port}", {&one, 1, 0}),
            "destination 'x:{proxy_protocol_port}': {proxy_protocol_port} is not known for this "
            "connection");
  EXPECT_EQ(err("x:{port}", {&one, 1, 1}), "destination 'x:{port}': unknown token at '{port}'");
  EXPECT_EQ(err("x$:1", {&one, 1, 1}),
            "destination 'x$:1': '$' must be followed by a capture number 1..9");
  EXPECT_EQ(err(":1", {&one, 1, 1}), "destination ':1': the host is empty");
  const std::vector<std::string> evil = {"evil.com:22/"};
  EXPECT_EQ(err("$1.x:1", {&evil, 1, 1}),
            "destination '$1.x:1': capture 'evil.com:22/' for $1 is not a host name");
}

TEST(SniConfigTest, ParseMatchExpandTogether) {
  auto c = parseOk(item("*.svc.example", "    tunnel_route: $1.pods.local:{inbound_local_port}\n"));
  auto m = c.match("Billing.svc.example");
  ASSERT_NE(m.rule, nullptr);
  auto d = expandDestination(m.rule->destination, {&m.captures, 443, 0});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(*d, "billing.pods.local:443");
  // A hostile name reaching "*": the capture is refused rather than spliced into the target.
  auto star = parseOk(item("*", "    tunnel_route: $1:443\n"));
  auto hostile = star.match("a:1@b");
  ASSERT_NE(hostile.rule, nullptr);
  EXPECT_FALSE(expandDestination(hostile.rule->destination, {&hostile.captures, 443, 0}).ok());
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
