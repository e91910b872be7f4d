// tlsgate.yaml parsing: routes (default, per ALPN protocol, the mapping form with TLS).
#include "config/gateway_config.h"
#include "gateway_config_helpers.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/text.h"

namespace tlsgate::config {
namespace {

using namespace yaml_testing;

TEST(GatewayConfigTest, UnknownKeyInsideRoutes) {
  auto err = parseFail(kMinimal + "  fallback: 127.0.0.1:9\n");
  EXPECT_EQ(err.line, 7);
  EXPECT_TRUE(contains(err.message, "unknown key 'fallback'")) << err.message;
  EXPECT_TRUE(contains(err.message, "routes")) << err.message;
}

TEST(GatewayConfigTest, NothingToRouteReportsRoutesLine) {
  auto err = parseFail("listeners:\n  - listen: 127.0.0.1:1\nssl:\n  multicert: m\nroutes: {}\n");
  EXPECT_EQ(err.line, 5);
  EXPECT_TRUE(contains(err.message, "nothing to route to")) << err.message;
  auto none = parseFail("listeners:\n  - listen: 127.0.0.1:1\nssl:\n  multicert: m\n");
  EXPECT_EQ(none.line, 0);
  EXPECT_TRUE(contains(none.message, "nothing to route to")) << none.message;
}

TEST(GatewayConfigTest, ClientTlsAlpn) {
  // An empty list offers origins no ALPN at all; absent offers what the client negotiated.
  auto none = parseOk(withClient("    alpn: []\n")).ssl.client.alpn;
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  auto longest = parseOk(withClient("    alpn: [" + std::string(255, 'x') + "]\n")).ssl.client.alpn;
  EXPECT_EQ(longest, std::vector<std::string>{std::string(255, 'x')});
  EXPECT_FALSE(parseOk(withClient("    alpn: [h2]\n")).ssl.alpnGiven);
}

TEST(GatewayConfigTest, RouteBuiltinInspect) {
  auto c = parseOk(withRoute("builtin:inspect"));
  EXPECT_TRUE(c.routes.defaultRoute->inspect);
  EXPECT_EQ(c.routes.defaultRoute->upstreamText, "");
  EXPECT_FALSE(c.routes.defaultRoute->upstream.isSet());
}

TEST(GatewayConfigTest, RouteHostPortIsResolvedAtLoad) {
  auto v4 = parseOk(withRoute("127.0.0.1:9"));
  EXPECT_FALSE(v4.routes.defaultRoute->inspect);
  EXPECT_EQ(v4.routes.defaultRoute->upstreamText, "127.0.0.1:9");
  EXPECT_EQ(v4.routes.defaultRoute->upstream.toString(), "127.0.0.1:9");

  auto v6 = parseOk(withRoute("\"[::1]:9\""));
  EXPECT_FALSE(v6.routes.defaultRoute->inspect);
  EXPECT_EQ(v6.routes.defaultRoute->upstreamText, "[::1]:9");
  EXPECT_EQ(v6.routes.defaultRoute->upstream.toString(), "[::1]:9");
}

TEST(GatewayConfigTest, RouteThatIsNotHostPort) {
  for (const char* bad : {"127.0.0.1", "upstream", "127.0.0.1:99999"}) {
    auto err = parseFail(withRoute(bad));
    EXPECT_EQ(err.line, 6) << bad;
    EXPECT_TRUE(contains(err.message, "routes.default")) << err.message;
    EXPECT_TRUE(contains(err.message, concat({"'", bad, "' is not host:port"}))) << err.message;
  }
}

TEST(GatewayConfigTest, RouteMustBeAStringOrAMapping) {
  expectError(withRoute("[127.0.0.1, 9]"), 6,
              "routes.default must be builtin:inspect, host:port or a mapping {upstream, tls, "
              "sni}, got a sequence");
  expectError(withRoutes("  alpn:\n    h2:\n"), 7,
              "routes.alpn.h2 must be builtin:inspect, host:port or a mapping {upstream, tls, "
              "sni}, got nothing");
}

TEST(GatewayConfigTest, AlpnRoutesKeepFileOrder) {
  auto c = parseOk(kMinimal +
                   "  alpn:\n"
                   "    h2: 127.0.0.1:9001\n"
                   "    http/1.1: builtin:inspect\n"
                   "  send_proxy_protocol: v2\n");
  ASSERT_EQ(c.routes.alpn.size(), 2u);
  EXPECT_EQ(c.routes.alpn[0].first, "h2");
  EXPECT_EQ(c.routes.alpn[0].second.upstream.toString(), "127.0.0.1:9001");
  EXPECT_EQ(c.routes.alpn[0].second.line, 8);
  EXPECT_EQ(c.routes.alpn[1].first, "http/1.1");
  EXPECT_TRUE(c.routes.alpn[1].second.inspect);
  EXPECT_EQ(c.routes.sendProxyProtocol, 2);
}

TEST(GatewayConfigTest, AlpnRouteErrorsNameTheProtocolAndLine) {
  auto bad = parseFail(kMinimal + "  alpn:\n    h2: nowhere\n");
  EXPECT_EQ(bad.line, 8);
  EXPECT_TRUE(contains(bad.message, "routes.alpn.h2")) << bad.message;
  auto twice = parseFail(kMinimal + "  alpn:\n    h2: 127.0.0.1:1\n    h2: 127.0.0.1:2\n");
  EXPECT_EQ(twice.line, 9);
  auto notMap = parseFail(kMinimal + "  alpn: [h2]\n");
  EXPECT_TRUE(contains(notMap.message, "must map protocol names")) << notMap.message;
  auto proxy = parseFail(kMinimal + "  send_proxy_protocol: v3\n");
  EXPECT_EQ(proxy.line, 7);
  EXPECT_TRUE(contains(proxy.message, "must be v1 or v2")) << proxy.message;
}

TEST(GatewayConfigTest, AlpnRoutesWithoutDefault) {
  auto c = parseOk(
      "listeners:\n  - listen: 127.0.0.1:1\nssl:\n  multicert: m\nroutes:\n  alpn:\n"
      "    h2: 127.0.0.1:9\n");
  EXPECT_FALSE(c.routes.defaultRoute.has_value());
  EXPECT_EQ(c.routes.alpn.size(), 1u);
}

// --- routes in the mapping form: TLS to the upstream (S17-S19) ---

TEST(GatewayConfigTest, StringRoutesArePlaintextWithTheClientsSni) {
  for (const char* route : {"127.0.0.1:9", "builtin:inspect"}) {
    auto c = parseOk(withRoute(route));
    EXPECT_FALSE(c.routes.defaultRoute->tls) << route;
    EXPECT_FALSE(c.routes.defaultRoute->originSni.has_value()) << route;
  }
}

TEST(GatewayConfigTest, DefaultRouteMapping) {
  auto c =
      parseOk(withRoutes("  default:\n"
                         "    upstream: 127.0.0.1:9443\n"
                         "    tls: true\n"
                         "    sni: origin.example\n"));
  ASSERT_TRUE(c.routes.defaultRoute.has_value());
  const RouteTarget& r = *c.routes.defaultRoute;
  EXPECT_EQ(r.line, 6);  // the route's key, not its first inner line
  EXPECT_FALSE(r.inspect);
  EXPECT_EQ(r.upstreamText, "127.0.0.1:9443");
  EXPECT_EQ(r.upstream.toString(), "127.0.0.1:9443");
  EXPECT_TRUE(r.tls);
  EXPECT_EQ(r.originSni, "origin.example");
}

TEST(GatewayConfigTest, RouteMappingDefaultsAndEmptySni) {
  auto plain = parseOk(withRoute("{upstream: \"[::1]:9\"}")).routes.defaultRoute;
  EXPECT_EQ(plain->upstream.toString(), "[::1]:9");
  EXPECT_FALSE(plain->tls);
  EXPECT_FALSE(plain->originSni.has_value());
  auto off = parseOk(withRoute("{upstream: 127.0.0.1:9, tls: false}")).routes.defaultRoute;
  EXPECT_FALSE(off->tls);
  auto tlsOnly = parseOk(withRoute("{upstream: 127.0.0.1:9, tls: true}")).routes.defaultRoute;
  EXPECT_TRUE(tlsOnly->tls);
  EXPECT_FALSE(tlsOnly->originSni.has_value());  // the client's SNI goes to the origin
  // S19: "" sends no SNI; the origin's certificate must then match its IP address.
  auto noSni =
      parseOk(withRoute("{upstream: 127.0.0.1:9, tls: true, sni: ''}")).routes.defaultRoute;
  ASSERT_TRUE(noSni->originSni.has_value());
  EXPECT_EQ(*noSni->originSni, "");
}

TEST(GatewayConfigTest, AlpnRoutesMixBothForms) {
  auto c =
      parseOk(withRoutes("  alpn:\n"
                         "    h2:\n"
                         "      tls: true\n"
                         "      upstream: 127.0.0.1:9001\n"
                         "    http/1.1: builtin:inspect\n"
                         "    x-tls: {upstream: 127.0.0.1:9002, tls: true, sni: x.example}\n"));
  ASSERT_EQ(c.routes.alpn.size(), 3u);
  EXPECT_EQ(c.routes.alpn[0].first, "h2");
  EXPECT_EQ(c.routes.alpn[0].second.line, 7);
  EXPECT_EQ(c.routes.alpn[0].second.upstream.toString(), "127.0.0.1:9001");
  EXPECT_TRUE(c.routes.alpn[0].second.tls);
  EXPECT_FALSE(c.routes.alpn[0].second.originSni.has_value());
  EXPECT_TRUE(c.routes.alpn[1].second.inspect);
  EXPECT_FALSE(c.routes.alpn[1].second.tls);
  EXPECT_EQ(c.routes.alpn[2].second.line, 11);
  EXPECT_EQ(c.routes.alpn[2].second.originSni, "x.example");
  EXPECT_FALSE(c.routes.defaultRoute.has_value());
}

TEST(GatewayConfigTest, RouteMappingErrors) {
  expectError(withRoutes("  default:\n    tls: true\n"), 6,
              "routes.default: missing required key 'upstream'");
  expectError(withRoute("{}"), 6, "routes.default: missing required key 'upstream'");
  expectError(withRoutes("  default:\n    upstream: 127.0.0.1:9\n    verify: true\n"), 8,
              "unknown key 'verify' in routes.default (expected one of: upstream, tls, sni, cert, "
              "key, ca_certs, alpn)");
  expectError(withRoutes("  default:\n    upstream: 127.0.0.1:9\n    upstream: 127.0.0.1:8\n"), 8,
              "duplicate key 'upstream' in routes.default");
  expectError(withRoutes("  default:\n    upstream: [127.0.0.1, 9]\n"), 7,
              "routes.default.upstream must be a string, got a sequence");
  expectError(withRoutes("  default:\n    upstream: 127.0.0.1\n"), 7,
              "routes.default.upstream: '127.0.0.1' is not host:port");
  expectError(withRoutes("  default:\n    upstream: 127.0.0.1:9\n    tls: yes\n"), 8,
              "routes.default.tls must be true or false, got 'yes'");
  expectError(withRoutes("  default:\n    upstream: 127.0.0.1:9\n    tls: true\n    sni: [a]\n"), 9,
              "routes.default.sni must be a string, got a sequence");
  expectError(withRoutes("  default:\n    upstream: 127.0.0.1:9\n    tls: true\n    sni:\n"), 9,
              "routes.default.sni must be a string, got nothing");
}

TEST(GatewayConfigTest, RouteSniNeedsTls) {
  // At the line of sni, whichever order the keys are in.
  expectError(withRoutes("  default:\n    upstream: 127.0.0.1:9\n    sni: a.example\n"), 8,
              "routes.default.sni only applies with tls: true");
  expectError(withRoutes("  default:\n    sni: ''\n    tls: false\n    upstream: 127.0.0.1:9\n"), 7,
              "routes.default.sni only applies with tls: true");
  expectError(withRoutes("  alpn:\n    h2: {upstream: 127.0.0.1:9, sni: a}\n"), 7,
              "routes.alpn.h2.sni only applies with tls: true");
}

TEST(GatewayConfigTest, AlpnRouteMappingErrorsNameTheProtocol) {
  expectError(withRoutes("  alpn:\n    h2: 127.0.0.1:1\n    x:\n      tls: true\n"), 8,
              "routes.alpn.x: missing required key 'upstream'");
  expectError(withRoutes("  alpn:\n    h2:\n      upstream: 127.0.0.1:1\n      sni_name: a\n"), 9,
              "unknown key 'sni_name' in routes.alpn.h2 (expected one of: upstream, tls, sni, "
              "cert, key, ca_certs, alpn)");
  expectError(withRoutes("  alpn:\n    h2:\n      upstream: builtin:inspect\n"), 8,
              "routes.alpn.h2.upstream must be host:port, got 'builtin:inspect' (write "
              "builtin:inspect as the plain string routes.alpn.h2: builtin:inspect)");
}

// --- a route's own TLS settings towards its upstream, instead of ssl.client's (S17-S19) ---

TEST(GatewayConfigTest, RouteTlsOverrides) {
  auto c =
      parseOk(withRoutes("  default:\n"
                         "    upstream: 127.0.0.1:9443\n"
                         "    tls: true\n"
                         "    cert: certs/client.crt\n"
                         "    key: /keys/client.key\n"
                         "    ca_certs: origin-cas/\n"
                         "    alpn: [h2, http/1.1]\n"));
  const RouteTarget& r = *c.routes.defaultRoute;
  EXPECT_EQ(r.line, 6);
  EXPECT_TRUE(r.tls);
  EXPECT_EQ(r.upstream.toString(), "127.0.0.1:9443");
  EXPECT_EQ(r.clientCert, "/etc/tlsgate/certs/client.crt");
  EXPECT_EQ(r.clientKey, "/keys/client.key");
  EXPECT_EQ(r.caCerts, "/etc/tlsgate/origin-cas/");
  EXPECT_EQ(r.originAlpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_FALSE(r.originSni.has_value());
  // ssl.client keeps its own settings.
  EXPECT_EQ(c.ssl.client.cert, "");
  EXPECT_EQ(c.ssl.client.caCerts, "");
  EXPECT_FALSE(c.ssl.client.alpn.has_value());
}

TEST(GatewayConfigTest, RouteTlsOverridesAreAbsentByDefault) {
  for (const std::string route : {"127.0.0.1:9", "{upstream: 127.0.0.1:9, tls: true, sni: a}"}) {
    const RouteTarget r = *parseOk(withRoute(route)).routes.defaultRoute;
    EXPECT_EQ(r.clientCert, "") << route;
    EXPECT_EQ(r.clientKey, "") << route;
    EXPECT_EQ(r.caCerts, "") << route;
    EXPECT_FALSE(r.originAlpn.has_value()) << route;  // ssl.client.alpn applies
  }
}

TEST(GatewayConfigTest, AlpnRouteTlsOverridesAndAnEmptyAlpn) {
  auto c =
      parseOk(withRoutes("  alpn:\n"
                         "    h2: {upstream: 127.0.0.1:9001, tls: true, alpn: [h2], key: k.pem, "
                         "cert: c.pem}\n"
                         "    x-none:\n"
                         "      upstream: 127.0.0.1:9002\n"
                         "      tls: true\n"
                         "      alpn: []\n"
                         "      ca_certs: /etc/ssl/certs\n"
                         "    x-long: {upstream: 127.0.0.1:9003, tls: true, alpn: [" +
                         std::string(255, 'x') + "]}\n"));
  ASSERT_EQ(c.routes.alpn.size(), 3u);
  const RouteTarget& h2 = c.routes.alpn[0].second;
  EXPECT_EQ(h2.originAlpn, std::vector<std::string>{"h2"});
  EXPECT_EQ(h2.clientCert, "/etc/tlsgate/c.pem");
  EXPECT_EQ(h2.clientKey, "/etc/tlsgate/k.pem");
  // [] offers the origin no ALPN at all; absent offers what ssl.client says.
  const RouteTarget& none = c.routes.alpn[1].second;
  ASSERT_TRUE(none.originAlpn.has_value());
  EXPECT_TRUE(none.originAlpn->empty());
  EXPECT_EQ(none.caCerts, "/etc/ssl/certs");
  EXPECT_EQ(c.routes.alpn[2].second.originAlpn, std::vector<std::string>{std::string(255, 'x')});
}

TEST(GatewayConfigTest, RouteTlsFilesResolveAgainstTheFolderOfTlsgateYaml) {
  const std::string route =
      "{upstream: 127.0.0.1:9, tls: true, ca_certs: ca.pem, cert: c.crt, key: k/c.key}";
  auto nested = *parseOk(withRoute(route), "conf/tlsgate.yaml").routes.defaultRoute;
  EXPECT_EQ(nested.caCerts, "conf/ca.pem");
  EXPECT_EQ(nested.clientCert, "conf/c.crt");
  EXPECT_EQ(nested.clientKey, "conf/k/c.key");
  auto bare = *parseOk(withRoute(route), "tlsgate.yaml").routes.defaultRoute;
  EXPECT_EQ(bare.caCerts, "ca.pem");
  EXPECT_EQ(bare.clientCert, "c.crt");
  EXPECT_EQ(bare.clientKey, "k/c.key");
}

TEST(GatewayConfigTest, RouteTlsKeysNeedTls) {
  // At the line of the key, like sni: tls absent or false, before or after the key.
  for (const std::string key :
       {"cert: c.pem", "key: k.pem", "ca_certs: ca.pem", "alpn: [h2]", "alpn: []"}) {
    const std::string name = key.substr(0, key.find(':'));
    expectError(withRoutes("  default:\n    upstream: 127.0.0.1:9\n    " + key + "\n"), 8,
                "routes.default." + name + " only applies with tls: true");
    expectError(
        withRoutes("  default:\n    " + key + "\n    tls: false\n    upstream: 127.0.0.1:9\n"), 7,
        "routes.default." + name + " only applies with tls: true");
    expectError(withRoutes("  alpn:\n    h2: {upstream: 127.0.0.1:9, " + key + "}\n"), 7,
                "routes.alpn.h2." + name + " only applies with tls: true");
  }
  // Several: the first in file order is named.
  expectError(withRoutes("  default:\n"
                         "    upstream: 127.0.0.1:9\n"
                         "    alpn: [h2]\n"
                         "    sni: a.example\n"
                         "    cert: c.pem\n"),
              8, "routes.default.alpn only applies with tls: true");
}

TEST(GatewayConfigTest, RouteCertAndKeyComeTogether) {
  // The message of ssl.client's check, at the line of the route's key.
  expectError(withRoutes("  default:\n    upstream: 127.0.0.1:9\n    tls: true\n    cert: c.pem\n"),
              6, "routes.default.cert needs routes.default.key");
  expectError(withRoutes("  default:\n    key: k.pem\n    upstream: 127.0.0.1:9\n    tls: true\n"),
              6, "routes.default.key needs routes.default.cert");
  expectError(withRoutes("  alpn:\n"
                         "    http/1.1: builtin:inspect\n"
                         "    h2: {upstream: 127.0.0.1:9, tls: true, key: k.pem}\n"),
              8, "routes.alpn.h2.key needs routes.alpn.h2.cert");
  // ssl.client's key does not complete a route's certificate: each identity is a pair.
  expectError(
      "listeners:\n"
      "  - listen: 127.0.0.1:8443\n"
      "ssl:\n"
      "  multicert: ssl_multicert.config\n"
      "  client: {cert: c.pem, key: k.pem}\n"
      "routes:\n"
      "  default: {upstream: 127.0.0.1:9, tls: true, cert: other.pem}\n",
      7, "routes.default.cert needs routes.default.key");
}

TEST(GatewayConfigTest, RouteAlpnHasTheChecksOfSslAlpn) {
  const std::string route = "  default:\n    upstream: 127.0.0.1:9\n    tls: true\n";  // 6-8
  expectError(withRoutes(route + "    alpn:\n      - h2\n      - http/1.1\n      - h2\n"), 12,
              "routes.default.alpn lists 'h2' twice");
  expectError(withRoutes(route + "    alpn:\n      - \"\"\n"), 10,
              "routes.default.alpn entry '' must be 1 to 255 bytes long");
  expectError(
      withRoutes(route + "    alpn: [" + std::string(256, 'x') + "]\n"), 9,
      "routes.default.alpn entry '" + std::string(256, 'x') + "' must be 1 to 255 bytes long");
  expectError(withRoutes(route + "    alpn: h2\n"), 9,
              "routes.default.alpn must be a sequence of protocol names, got 'h2'");
  expectError(withRoutes(route + "    alpn:\n"), 9,
              "routes.default.alpn must be a sequence of protocol names, got nothing");
  expectError(withRoutes(route + "    alpn:\n      - [h2]\n"), 10,
              "routes.default.alpn entries must be strings, got a sequence");
  expectError(withRoutes("  alpn:\n    h2: {upstream: 127.0.0.1:9, tls: true, alpn: [h2, h2]}\n"),
              7, "routes.alpn.h2.alpn lists 'h2' twice");
}

TEST(GatewayConfigTest, RouteTlsFileErrors) {
  const std::string route = "  default:\n    upstream: 127.0.0.1:9\n    tls: true\n";  // 6-8
  expectError(withRoutes(route + "    ca_certs: \"\"\n"), 9,
              "routes.default.ca_certs must name a file or a directory");
  expectError(withRoutes(route + "    ca_certs: [a.pem, b.pem]\n"), 9,
              "routes.default.ca_certs must be a string, got a sequence");
  expectError(withRoutes(route + "    cert: \"\"\n    key: k.pem\n"), 9,
              "routes.default.cert must name a file");
  expectError(withRoutes(route + "    cert: c.pem\n    key:\n      file: k.pem\n"), 11,
              "routes.default.key must be a string, got a mapping");
  expectError(withRoutes(route + "    key:\n    cert: c.pem\n"), 9,
              "routes.default.key must be a string, got nothing");
  expectError(withRoutes(route + "    cert: a.pem\n    key: k.pem\n    cert: b.pem\n"), 11,
              "duplicate key 'cert' in routes.default");
}

// --- listener options, sni, tunnel ---

}  // namespace
}  // namespace tlsgate::config
