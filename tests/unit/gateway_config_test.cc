// tlsgate.yaml parsing.
#include "config/gateway_config.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace tlsgate::config {
namespace {

const std::string kPath = "/etc/tlsgate/tlsgate.yaml";

// The smallest valid file; tests append to or replace parts of it.
const std::string kMinimal =
    "listeners:\n"
    "  - listen: 127.0.0.1:8443\n"
    "ssl:\n"
    "  multicert: ssl_multicert.config\n"
    "routes:\n"
    "  default: builtin:inspect\n";

GatewayConfig parseOk(std::string_view text, const std::string& path = kPath) {
  auto r = parseGatewayConfig(text, path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().toString());
  return r.ok() ? r.value() : GatewayConfig{};
}

Error parseFail(std::string_view text, const std::string& path = kPath) {
  auto r = parseGatewayConfig(text, path);
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  return r.ok() ? Error{} : r.error();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// kMinimal with `lines` added to the ssl mapping: the first added line is line 5.
std::string withSsl(const std::string& lines) {
  return "listeners:\n"
         "  - listen: 127.0.0.1:8443\n"
         "ssl:\n"
         "  multicert: ssl_multicert.config\n" +
         lines +
         "routes:\n"
         "  default: builtin:inspect\n";
}

// kMinimal with another default route, on line 6.
std::string withRoute(const std::string& route) {
  return "listeners:\n"
         "  - listen: 127.0.0.1:8443\n"
         "ssl:\n"
         "  multicert: ssl_multicert.config\n"
         "routes:\n"
         "  default: " +
         route + "\n";
}

// kMinimal with other listeners, starting on line 2.
std::string withListeners(const std::string& lines) {
  return "listeners:\n" + lines +
         "ssl:\n"
         "  multicert: ssl_multicert.config\n"
         "routes:\n"
         "  default: builtin:inspect\n";
}

// kMinimal with an ssl.client mapping: "client:" is line 5, the first of `lines` line 6.
std::string withClient(const std::string& lines) {
  return withSsl("  client:\n" + lines);
}

// kMinimal with `lines` as the routes mapping: the first of them is line 6.
std::string withRoutes(const std::string& lines) {
  return "listeners:\n"
         "  - listen: 127.0.0.1:8443\n"
         "ssl:\n"
         "  multicert: ssl_multicert.config\n"
         "routes:\n" +
         lines;
}

// `text` fails at exactly `line` with exactly `message`, naming kPath.
void expectError(const std::string& text, int line, const std::string& message) {
  auto err = parseFail(text);
  EXPECT_EQ(err.file, kPath) << text;
  EXPECT_EQ(err.line, line) << text << "\n" << err.toString();
  EXPECT_EQ(err.message, message) << text;
}

unsigned autoThreads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

TEST(GatewayConfigTest, FullValidExample) {
  auto c = parseOk(
      "# tlsgate\n"
      "threads: 4\n"
      "listeners:\n"
      "  - listen: 127.0.0.1:8443\n"
      "  - listen: \"[::1]:9443\"\n"
      "ssl:\n"
      "  multicert: certs/ssl_multicert.config\n"
      "  handshake_timeout_in: 0\n"
      "  allow_client_renegotiation: true\n"
      "  alpn: [h2, http/1.1]\n"
      "  protocols: [TLSv1.3]\n"
      "  ciphers: ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256\n"
      "  ciphersuites: TLS_AES_128_GCM_SHA256\n"
      "  groups: X25519:P-256\n"
      "routes:\n"
      "  default: 127.0.0.1:9\n");
  EXPECT_EQ(c.path, kPath);
  EXPECT_EQ(c.threads, 4u);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].line, 4);
  EXPECT_EQ(c.listeners[0].address.toString(), "127.0.0.1:8443");
  EXPECT_EQ(c.listeners[1].line, 5);
  EXPECT_EQ(c.listeners[1].address.family(), AF_INET6);
  EXPECT_EQ(c.listeners[1].address.toString(), "[::1]:9443");
  EXPECT_EQ(c.ssl.multicertPath, "/etc/tlsgate/certs/ssl_multicert.config");
  EXPECT_EQ(c.ssl.multicertLine, 7);
  EXPECT_EQ(c.ssl.handshakeTimeoutSec, 0u);
  EXPECT_TRUE(c.ssl.allowClientRenegotiation);
  EXPECT_EQ(c.ssl.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(c.ssl.minVersion, TlsVersion::kTls13);
  EXPECT_EQ(c.ssl.maxVersion, TlsVersion::kTls13);
  EXPECT_EQ(c.ssl.ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(c.ssl.ciphersuites, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(c.ssl.groups, "X25519:P-256");
  EXPECT_FALSE(c.routes.defaultRoute->inspect);
  EXPECT_EQ(c.routes.defaultRoute->upstreamText, "127.0.0.1:9");
  EXPECT_EQ(c.routes.defaultRoute->upstream.toString(), "127.0.0.1:9");
}

TEST(GatewayConfigTest, Defaults) {
  auto c = parseOk(kMinimal);
  EXPECT_EQ(c.threads, autoThreads());  // threads omitted: auto
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].line, 2);
  EXPECT_EQ(c.ssl.multicertPath, "/etc/tlsgate/ssl_multicert.config");
  EXPECT_EQ(c.ssl.multicertLine, 4);
  EXPECT_EQ(c.ssl.handshakeTimeoutSec, 30u);
  EXPECT_FALSE(c.ssl.allowClientRenegotiation);
  EXPECT_EQ(c.ssl.alpn, std::vector<std::string>{"http/1.1"});
  EXPECT_EQ(c.ssl.minVersion, TlsVersion::kTls12);
  EXPECT_EQ(c.ssl.maxVersion, TlsVersion::kTls13);
  EXPECT_EQ(c.ssl.ciphers, "");
  EXPECT_EQ(c.ssl.ciphersuites, "");
  EXPECT_EQ(c.ssl.groups, "");
  EXPECT_TRUE(c.routes.defaultRoute->inspect);
  EXPECT_EQ(c.routes.defaultRoute->upstreamText, "");
}

TEST(GatewayConfigTest, ThreadsAuto) {
  auto c = parseOk("threads: auto\n" + kMinimal);
  EXPECT_EQ(c.threads, autoThreads());
  EXPECT_GE(c.threads, 1u);
}

TEST(GatewayConfigTest, ThreadsBadValues) {
  for (const char* bad : {"abc", "0", "-1", "1.5", "[1]", "{a: 1}", "\"\"", "Auto"}) {
    auto err = parseFail(kMinimal + "threads: " + bad + "\n");
    EXPECT_EQ(err.file, kPath);
    EXPECT_EQ(err.line, 7) << bad;
    EXPECT_TRUE(contains(err.message, "threads must be a positive integer or 'auto'"))
        << err.message;
  }
}

TEST(GatewayConfigTest, ThreadsWithoutValueReportsTheKeyLine) {
  auto err = parseFail("threads:\n" + kMinimal);
  EXPECT_EQ(err.line, 1);
  EXPECT_TRUE(contains(err.message, "got nothing")) << err.message;
}

// --- unknown and duplicate keys, at the key's line ---

TEST(GatewayConfigTest, UnknownTopLevelKey) {
  auto err = parseFail(kMinimal + "threads: 2\nlisteners_extra: 1\n");
  EXPECT_EQ(err.line, 8);
  EXPECT_TRUE(contains(err.message, "unknown key 'listeners_extra'")) << err.message;
  EXPECT_EQ(err.toString().rfind(kPath + ":8: ", 0), 0u) << err.toString();
}

TEST(GatewayConfigTest, UnknownTopLevelKeyNamesItsLine) {
  auto err = parseFail("# comment\nmonitoring:\n  x: 1\n" + kMinimal);
  EXPECT_EQ(err.line, 2);
  EXPECT_TRUE(contains(err.message, "unknown key 'monitoring'")) << err.message;
}

TEST(GatewayConfigTest, PluginsInOrderWithArgsAndPathsResolved) {
  auto c = parseOk(kMinimal +
                   "plugins:\n"
                   "  - path: plugins/hook_test.so\n"
                   "    args: [--hook, cert, --ms, \"200\"]\n"
                   "  - path: /opt/x.so\n");
  ASSERT_EQ(c.plugins.size(), 2u);
  EXPECT_EQ(c.plugins[0].path, "/etc/tlsgate/plugins/hook_test.so");
  EXPECT_EQ(c.plugins[0].args, (std::vector<std::string>{"--hook", "cert", "--ms", "200"}));
  EXPECT_EQ(c.plugins[0].line, 8);
  EXPECT_EQ(c.plugins[1].path, "/opt/x.so");
  EXPECT_TRUE(c.plugins[1].args.empty());
}

TEST(GatewayConfigTest, PluginErrorsHaveTheirLine) {
  auto noPath = parseFail(kMinimal + "plugins:\n  - args: [x]\n");
  EXPECT_EQ(noPath.line, 8);
  EXPECT_TRUE(contains(noPath.message, "missing required key 'path'")) << noPath.message;
  auto notList = parseFail(kMinimal + "plugins:\n  path: x.so\n");
  EXPECT_TRUE(contains(notList.message, "plugins must be a sequence")) << notList.message;
  auto badArgs = parseFail(kMinimal + "plugins:\n  - path: x.so\n    args: {a: 1}\n");
  EXPECT_EQ(badArgs.line, 9);
  EXPECT_TRUE(contains(badArgs.message, "plugin.args")) << badArgs.message;
  auto unknown = parseFail(kMinimal + "plugins:\n  - path: x.so\n    init: y\n");
  EXPECT_EQ(unknown.line, 9);
  EXPECT_TRUE(contains(unknown.message, "unknown key 'init'")) << unknown.message;
}

TEST(GatewayConfigTest, UnknownKeyInsideSsl) {
  auto err = parseFail(withSsl("  handshake_timeout_in: 5\n  verify_peer: true\n"));
  EXPECT_EQ(err.line, 6);
  EXPECT_TRUE(contains(err.message, "unknown key 'verify_peer'")) << err.message;
  EXPECT_TRUE(contains(err.message, "ssl")) << err.message;
}

TEST(GatewayConfigTest, VerifyClientLevelsAndCaFile) {
  auto c = parseOk(withSsl("  verify_client: STRICT\n  verify_client_ca_certs: clients.pem\n"));
  EXPECT_EQ(c.ssl.verifyClient, VerifyClient::kStrict);
  EXPECT_EQ(c.ssl.verifyClientCaCerts, "/etc/tlsgate/clients.pem");
  EXPECT_EQ(parseOk(kMinimal).ssl.verifyClient, VerifyClient::kNone);
  auto bad = parseFail(withSsl("  verify_client: true\n  verify_client_ca_certs: c.pem\n"));
  EXPECT_EQ(bad.line, 5);
  EXPECT_TRUE(contains(bad.message, "NONE, MODERATE or STRICT")) << bad.message;
  auto noCa = parseFail(withSsl("  verify_client: MODERATE\n"));
  EXPECT_TRUE(contains(noCa.message, "verify_client_ca_certs")) << noCa.message;
}

// S21: ssl.wire_trace; and ssl.keylog_file.
TEST(GatewayConfigTest, WireTraceAbsentMeansNoTraceAndNoKeyLog) {
  auto c = parseOk(withSsl(""));
  EXPECT_FALSE(c.ssl.wireTrace.has_value());
  EXPECT_EQ(c.ssl.keylogFile, "");
}

TEST(GatewayConfigTest, WireTraceAllFilters) {
  auto c =
      parseOk(withSsl("  wire_trace:\n"
                      "    client_ip: 10.0.0.0/8\n"
                      "    server_name: A.Test\n"
                      "    percentage: 25\n"));
  ASSERT_TRUE(c.ssl.wireTrace.has_value());
  const WireTraceConfig& t = *c.ssl.wireTrace;
  EXPECT_EQ(t.line, 5);
  ASSERT_TRUE(t.clientIp.has_value());
  EXPECT_TRUE(t.clientIp->contains(*net::parseAddress("10.1.2.3:1", true)));
  EXPECT_FALSE(t.clientIp->contains(*net::parseAddress("127.0.0.1:1", true)));
  EXPECT_EQ(t.serverName, "a.test");  // SNI matching ignores case
  EXPECT_EQ(t.percentage, 25u);
}

TEST(GatewayConfigTest, WireTraceEmptyMappingOrNothingTracesEverything) {
  for (const char* text : {"  wire_trace: {}\n", "  wire_trace:\n"}) {
    auto c = parseOk(withSsl(text));
    ASSERT_TRUE(c.ssl.wireTrace.has_value()) << text;
    EXPECT_FALSE(c.ssl.wireTrace->clientIp.has_value());
    EXPECT_EQ(c.ssl.wireTrace->serverName, "");
    EXPECT_EQ(c.ssl.wireTrace->percentage, 100u);
  }
}

TEST(GatewayConfigTest, WireTraceErrors) {
  expectError(withSsl("  wire_trace: {client_ip: 10.0.0.0/33}\n"), 5,
              "ssl.wire_trace.client_ip: '10.0.0.0/33': prefix length must be 0..32");
  expectError(withSsl("  wire_trace:\n    percentage: 101\n"), 6,
              "ssl.wire_trace.percentage must be an integer from 0 to 100, got '101'");
  expectError(withSsl("  wire_trace:\n    percentage: half\n"), 6,
              "ssl.wire_trace.percentage must be an integer from 0 to 100, got 'half'");
  expectError(withSsl("  wire_trace:\n    server_name: [a, b]\n"), 6,
              "ssl.wire_trace.server_name must be a server name, got a sequence");
  expectError(withSsl("  wire_trace: yes\n"), 5, "ssl.wire_trace must be a mapping, got 'yes'");
  expectError(withSsl("  wire_trace:\n    client: 1.2.3.4\n"), 6,
              "unknown key 'client' in ssl.wire_trace (expected one of: client_ip, server_name, "
              "percentage)");
}

TEST(GatewayConfigTest, KeyLogFileIsResolvedAgainstTheConfigFolder) {
  auto c = parseOk(withSsl("  keylog_file: keys.log\n"));
  EXPECT_EQ(c.ssl.keylogFile, "/etc/tlsgate/keys.log");
  EXPECT_EQ(c.ssl.keylogLine, 5);
  EXPECT_EQ(parseOk(withSsl("  keylog_file: /var/tmp/k.log\n")).ssl.keylogFile, "/var/tmp/k.log");
  expectError(withSsl("  keylog_file: \"\"\n"), 5, "ssl.keylog_file must name a file");
}

TEST(GatewayConfigTest, UnknownKeyInsideListener) {
  auto err =
      parseFail(withListeners("  - listen: 127.0.0.1:1\n"
                              "  - listen: 127.0.0.1:2\n"
                              "    backlog: 10\n"));
  EXPECT_EQ(err.line, 4);
  EXPECT_TRUE(contains(err.message, "unknown key 'backlog'")) << err.message;
  EXPECT_TRUE(contains(err.message, "listener")) << err.message;
}

TEST(GatewayConfigTest, UnknownKeyInsideRoutes) {
  auto err = parseFail(kMinimal + "  fallback: 127.0.0.1:9\n");
  EXPECT_EQ(err.line, 7);
  EXPECT_TRUE(contains(err.message, "unknown key 'fallback'")) << err.message;
  EXPECT_TRUE(contains(err.message, "routes")) << err.message;
}

TEST(GatewayConfigTest, DuplicateKey) {
  auto err = parseFail(withSsl("  alpn: [h2]\n  alpn: [http/1.1]\n"));
  EXPECT_EQ(err.line, 6);
  EXPECT_TRUE(contains(err.message, "duplicate key 'alpn'")) << err.message;
}

TEST(GatewayConfigTest, NonStringKey) {
  auto err = parseFail(kMinimal + "[a, b]: 1\n");
  EXPECT_EQ(err.line, 7);
  EXPECT_TRUE(contains(err.message, "keys must be strings, got a sequence")) << err.message;
}

// --- required keys ---

TEST(GatewayConfigTest, MissingTopLevelSectionsAreLineZero) {
  struct Case {
    std::string text;
    std::string key;
  };
  for (const auto& c :
       {Case{"ssl:\n  multicert: m\nroutes:\n  default: builtin:inspect\n", "listeners"},
        Case{"listeners:\n  - listen: 127.0.0.1:1\nroutes:\n  default: "
             "builtin:inspect\n",
             "ssl"}}) {
    auto err = parseFail(c.text);
    EXPECT_EQ(err.line, 0) << c.key;
    EXPECT_EQ(err.message, "missing required key '" + c.key + "'");
  }
}

TEST(GatewayConfigTest, MissingMulticertReportsSslLine) {
  auto err = parseFail(
      "listeners:\n  - listen: 127.0.0.1:1\nssl:\n  alpn: [h2]\nroutes:\n  default: "
      "builtin:inspect\n");
  EXPECT_EQ(err.line, 3);
  EXPECT_TRUE(contains(err.message, "missing required key 'ssl.multicert'")) << err.message;
}

TEST(GatewayConfigTest, NothingToRouteReportsRoutesLine) {
  auto err = parseFail("listeners:\n  - listen: 127.0.0.1:1\nssl:\n  multicert: m\nroutes: {}\n");
  EXPECT_EQ(err.line, 5);
  EXPECT_TRUE(contains(err.message, "nothing to route to")) << err.message;
  auto none = parseFail("listeners:\n  - listen: 127.0.0.1:1\nssl:\n  multicert: m\n");
  EXPECT_EQ(none.line, 0);
  EXPECT_TRUE(contains(none.message, "nothing to route to")) << none.message;
}

TEST(GatewayConfigTest, ListenerWithoutListen) {
  auto err = parseFail(withListeners("  - listen: 127.0.0.1:1\n  - {}\n"));
  EXPECT_EQ(err.line, 3);
  EXPECT_TRUE(contains(err.message, "missing required key 'listen'")) << err.message;
}

// --- listeners ---

TEST(GatewayConfigTest, ListenersMustBeANonEmptySequenceOfMappings) {
  auto empty = parseFail(withListeners("  []\n"));
  EXPECT_EQ(empty.line, 2);
  EXPECT_TRUE(contains(empty.message, "listeners must be a non-empty sequence")) << empty.message;

  auto scalar = parseFail(
      "listeners: 127.0.0.1:1\nssl:\n  multicert: m\nroutes:\n  default: "
      "builtin:inspect\n");
  EXPECT_EQ(scalar.line, 1);
  EXPECT_TRUE(contains(scalar.message, "listeners must be a non-empty sequence")) << scalar.message;

  auto notMap = parseFail(withListeners("  - 127.0.0.1:1\n"));
  EXPECT_EQ(notMap.line, 2);
  EXPECT_TRUE(contains(notMap.message, "listener must be a mapping")) << notMap.message;
}

TEST(GatewayConfigTest, BadListenAddress) {
  for (const char* bad : {"bad", "127.0.0.1", "localhost:8443", "127.0.0.1:70000", "\"::1\""}) {
    auto err =
        parseFail(withListeners("  - listen: 127.0.0.1:1\n  - listen: " + std::string(bad) + "\n"));
    EXPECT_EQ(err.line, 3) << bad;
    std::string unquoted(bad);
    unquoted.erase(std::remove(unquoted.begin(), unquoted.end(), '"'), unquoted.end());
    EXPECT_TRUE(contains(err.message, "bad listen address '" + unquoted + "'")) << err.message;
  }
}

TEST(GatewayConfigTest, ListenMustBeAScalar) {
  auto err = parseFail(withListeners("  - listen: [127.0.0.1, 1]\n"));
  EXPECT_EQ(err.line, 2);
  EXPECT_TRUE(contains(err.message, "listener.listen must be a string, got a sequence"))
      << err.message;
}

TEST(GatewayConfigTest, ListenPortZeroIsAllowed) {
  auto c = parseOk(withListeners("  - listen: 127.0.0.1:0\n"));
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address.port(), 0);
}

// --- ssl ---

TEST(GatewayConfigTest, SslMustBeAMapping) {
  auto err = parseFail(
      "listeners:\n  - listen: 127.0.0.1:1\nssl: ssl_multicert.config\nroutes:\n  default: "
      "builtin:inspect\n");
  EXPECT_EQ(err.line, 3);
  EXPECT_TRUE(contains(err.message, "ssl must be a mapping")) << err.message;
}

TEST(GatewayConfigTest, ProtocolsMapToMinAndMax) {
  auto only12 = parseOk(withSsl("  protocols: [TLSv1.2]\n"));
  EXPECT_EQ(only12.ssl.minVersion, TlsVersion::kTls12);
  EXPECT_EQ(only12.ssl.maxVersion, TlsVersion::kTls12);
  auto both = parseOk(withSsl("  protocols:\n    - TLSv1.3\n    - TLSv1.2\n"));
  EXPECT_EQ(both.ssl.minVersion, TlsVersion::kTls12);
  EXPECT_EQ(both.ssl.maxVersion, TlsVersion::kTls13);
}

TEST(GatewayConfigTest, UnsupportedProtocol) {
  auto err = parseFail(withSsl("  protocols:\n    - TLSv1.2\n    - TLSv1.1\n"));
  EXPECT_EQ(err.line, 7);
  EXPECT_TRUE(contains(err.message, "unsupported protocol 'TLSv1.1'")) << err.message;
}

TEST(GatewayConfigTest, ProtocolsBadShapes) {
  auto empty = parseFail(withSsl("  protocols: []\n"));
  EXPECT_EQ(empty.line, 5);
  EXPECT_TRUE(contains(empty.message, "ssl.protocols must be a non-empty sequence"))
      << empty.message;
  auto scalar = parseFail(withSsl("  protocols: TLSv1.3\n"));
  EXPECT_EQ(scalar.line, 5);
  EXPECT_TRUE(contains(scalar.message, "ssl.protocols must be a non-empty sequence"))
      << scalar.message;
}

TEST(GatewayConfigTest, AlpnValues) {
  auto c = parseOk(withSsl("  alpn:\n    - h2\n    - http/1.1\n"));
  EXPECT_EQ(c.ssl.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  auto none = parseOk(withSsl("  alpn: []\n"));
  EXPECT_TRUE(none.ssl.alpn.empty());
  auto max = parseOk(withSsl("  alpn: [" + std::string(255, 'x') + "]\n"));
  EXPECT_EQ(max.ssl.alpn, std::vector<std::string>{std::string(255, 'x')});
}

TEST(GatewayConfigTest, AlpnErrors) {
  auto dup = parseFail(withSsl("  alpn:\n    - h2\n    - http/1.1\n    - h2\n"));
  EXPECT_EQ(dup.line, 8);
  EXPECT_TRUE(contains(dup.message, "lists 'h2' twice")) << dup.message;

  auto empty = parseFail(withSsl("  alpn:\n    - \"\"\n"));
  EXPECT_EQ(empty.line, 6);
  EXPECT_TRUE(contains(empty.message, "1 to 255 bytes")) << empty.message;

  auto tooLong = parseFail(withSsl("  alpn: [" + std::string(256, 'x') + "]\n"));
  EXPECT_EQ(tooLong.line, 5);
  EXPECT_TRUE(contains(tooLong.message, "1 to 255 bytes")) << tooLong.message;

  auto scalar = parseFail(withSsl("  alpn: h2\n"));
  EXPECT_EQ(scalar.line, 5);
  EXPECT_TRUE(contains(scalar.message, "ssl.alpn must be a sequence")) << scalar.message;

  auto nested = parseFail(withSsl("  alpn:\n    - [h2]\n"));
  EXPECT_EQ(nested.line, 6);
  EXPECT_TRUE(contains(nested.message, "ssl.alpn entries must be strings")) << nested.message;
}

TEST(GatewayConfigTest, HandshakeTimeout) {
  EXPECT_EQ(parseOk(withSsl("  handshake_timeout_in: 45\n")).ssl.handshakeTimeoutSec, 45u);
  for (const char* bad : {"-1", "abc", "1.5", "[1]", "99999999999"}) {
    auto err = parseFail(withSsl("  handshake_timeout_in: " + std::string(bad) + "\n"));
    EXPECT_EQ(err.line, 5) << bad;
    EXPECT_TRUE(contains(err.message, "ssl.handshake_timeout_in must be a non-negative integer"))
        << err.message;
  }
}

TEST(GatewayConfigTest, AllowClientRenegotiation) {
  EXPECT_TRUE(
      parseOk(withSsl("  allow_client_renegotiation: true\n")).ssl.allowClientRenegotiation);
  EXPECT_FALSE(
      parseOk(withSsl("  allow_client_renegotiation: false\n")).ssl.allowClientRenegotiation);
  auto err = parseFail(withSsl("  allow_client_renegotiation: maybe\n"));
  EXPECT_EQ(err.line, 5);
  EXPECT_TRUE(contains(err.message, "must be true or false, got 'maybe'")) << err.message;
}

TEST(GatewayConfigTest, CipherStringsMustBeScalars) {
  for (const char* key : {"ciphers", "ciphersuites", "groups"}) {
    auto err = parseFail(withSsl("  " + std::string(key) + ": [a, b]\n"));
    EXPECT_EQ(err.line, 5) << key;
    EXPECT_TRUE(contains(err.message, "ssl." + std::string(key) + " must be a string"))
        << err.message;
  }
}

TEST(GatewayConfigTest, MulticertPathResolution) {
  auto absolute = parseOk(
      "listeners:\n  - listen: 127.0.0.1:1\nssl:\n  multicert: /abs/multicert.config\nroutes:\n"
      "  default: builtin:inspect\n");
  EXPECT_EQ(absolute.ssl.multicertPath, "/abs/multicert.config");

  auto relativeYaml = parseOk(kMinimal, "conf/tlsgate.yaml");
  EXPECT_EQ(relativeYaml.ssl.multicertPath, "conf/ssl_multicert.config");
  EXPECT_EQ(relativeYaml.path, "conf/tlsgate.yaml");

  auto bareYaml = parseOk(kMinimal, "tlsgate.yaml");
  EXPECT_EQ(bareYaml.ssl.multicertPath, "ssl_multicert.config");
}

TEST(GatewayConfigTest, EmptyMulticert) {
  auto err = parseFail(
      "listeners:\n  - listen: 127.0.0.1:1\nssl:\n  multicert: \"\"\nroutes:\n  default: "
      "builtin:inspect\n");
  EXPECT_EQ(err.line, 4);
  EXPECT_TRUE(contains(err.message, "ssl.multicert must name a file")) << err.message;
}

// --- ssl.client: TLS towards origins (S17-S19) ---

TEST(GatewayConfigTest, ClientTlsEveryKey) {
  auto c =
      parseOk(withSsl("  alpn: [http/1.1]\n"
                      "  client:\n"
                      "    handshake_timeout_in: 0\n"
                      "    verify_server_policy: PERMISSIVE\n"
                      "    verify_server_properties: SIGNATURE\n"
                      "    ca_certs: certs/origin-ca\n"
                      "    verify_depth: 3\n"
                      "    cert: client.crt\n"
                      "    key: /keys/client.key\n"
                      "    alpn: [h2, http/1.1]\n"
                      "    session_cache: 0\n"));
  const ClientTlsConfig& t = c.ssl.client;
  EXPECT_EQ(t.line, 6);
  EXPECT_EQ(t.handshakeTimeoutSec, 0u);
  EXPECT_EQ(t.policy, VerifyServerPolicy::kPermissive);
  EXPECT_EQ(t.properties, VerifyServerProperties::kSignature);
  EXPECT_EQ(t.caCerts, "/etc/tlsgate/certs/origin-ca");
  EXPECT_EQ(t.verifyDepth, 3u);
  EXPECT_EQ(t.cert, "/etc/tlsgate/client.crt");
  EXPECT_EQ(t.key, "/keys/client.key");
  EXPECT_EQ(t.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(t.sessionCache, 0u);
  // The server side keeps its own settings.
  EXPECT_EQ(c.ssl.handshakeTimeoutSec, 30u);
  EXPECT_EQ(c.ssl.alpn, std::vector<std::string>{"http/1.1"});
}

TEST(GatewayConfigTest, ClientTlsDefaults) {
  for (const std::string& text : {kMinimal, withSsl("  client: {}\n")}) {
    const ClientTlsConfig t = parseOk(text).ssl.client;
    EXPECT_EQ(t.line, text == kMinimal ? 0 : 5);
    EXPECT_EQ(t.handshakeTimeoutSec, 30u);
    EXPECT_EQ(t.policy, VerifyServerPolicy::kEnforced);
    EXPECT_EQ(t.properties, VerifyServerProperties::kAll);
    EXPECT_EQ(t.caCerts, "");
    EXPECT_EQ(t.verifyDepth, 7u);
    EXPECT_EQ(t.cert, "");
    EXPECT_EQ(t.key, "");
    EXPECT_FALSE(t.alpn.has_value());
    EXPECT_EQ(t.sessionCache, 1024u);
  }
}

TEST(GatewayConfigTest, ClientTlsPoliciesAndProperties) {
  auto policy = [](const std::string& v) {
    return parseOk(withClient("    verify_server_policy: " + v + "\n")).ssl.client.policy;
  };
  EXPECT_EQ(policy("ENFORCED"), VerifyServerPolicy::kEnforced);
  EXPECT_EQ(policy("PERMISSIVE"), VerifyServerPolicy::kPermissive);
  EXPECT_EQ(policy("DISABLED"), VerifyServerPolicy::kDisabled);
  auto properties = [](const std::string& v) {
    return parseOk(withClient("    verify_server_properties: " + v + "\n")).ssl.client.properties;
  };
  EXPECT_EQ(properties("NONE"), VerifyServerProperties::kNone);
  EXPECT_EQ(properties("SIGNATURE"), VerifyServerProperties::kSignature);
  EXPECT_EQ(properties("NAME"), VerifyServerProperties::kName);
  EXPECT_EQ(properties("ALL"), VerifyServerProperties::kAll);
}

TEST(GatewayConfigTest, ClientTlsNumbersAtTheirBounds) {
  auto client = [](const std::string& lines) { return parseOk(withClient(lines)).ssl.client; };
  EXPECT_EQ(client("    verify_depth: 1\n").verifyDepth, 1u);
  EXPECT_EQ(client("    verify_depth: 100\n").verifyDepth, 100u);
  EXPECT_EQ(client("    handshake_timeout_in: 45\n").handshakeTimeoutSec, 45u);
  EXPECT_EQ(client("    session_cache: 4294967295\n").sessionCache, 4294967295u);
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

TEST(GatewayConfigTest, ClientTlsFilesResolveAgainstTheFolderOfTlsgateYaml) {
  const std::string keys = "    ca_certs: ca.pem\n    cert: c.crt\n    key: k/c.key\n";
  auto nested = parseOk(withClient(keys), "conf/tlsgate.yaml").ssl.client;
  EXPECT_EQ(nested.caCerts, "conf/ca.pem");
  EXPECT_EQ(nested.cert, "conf/c.crt");
  EXPECT_EQ(nested.key, "conf/k/c.key");
  auto bare = parseOk(withClient(keys), "tlsgate.yaml").ssl.client;
  EXPECT_EQ(bare.caCerts, "ca.pem");
  EXPECT_EQ(bare.key, "k/c.key");
  // Only named, not opened: a folder of CAs and missing files are the loader's business.
  EXPECT_EQ(parseOk(withClient("    ca_certs: /nonexistent/cas/\n")).ssl.client.caCerts,
            "/nonexistent/cas/");
}

TEST(GatewayConfigTest, ClientTlsShapeErrors) {
  const std::string keys =
      "handshake_timeout_in, verify_server_policy, verify_server_properties, ca_certs, "
      "verify_depth, cert, key, alpn, session_cache, groups";
  expectError(withSsl("  client: yes\n"), 5, "ssl.client must be a mapping, got 'yes'");
  expectError(withSsl("  client:\n"), 5, "ssl.client must be a mapping, got nothing");
  expectError(withSsl("  client: [a]\n"), 5, "ssl.client must be a mapping, got a sequence");
  expectError(withClient("    verify_depth: 3\n    verify_peer: true\n"), 7,
              "unknown key 'verify_peer' in ssl.client (expected one of: " + keys + ")");
  expectError(withClient("    cert: a.crt\n    key: a.key\n    cert: b.crt\n"), 8,
              "duplicate key 'cert' in ssl.client");
  expectError(withSsl("  client: {}\n  client: {}\n"), 6, "duplicate key 'client' in ssl");
}

TEST(GatewayConfigTest, ClientTlsValueErrors) {
  const std::string policy = "ssl.client.verify_server_policy must be ";
  const std::string properties = "ssl.client.verify_server_properties must be ";
  expectError(withClient("    verify_server_policy: enforced\n"), 6,
              policy + "ENFORCED, PERMISSIVE or DISABLED, got 'enforced'");
  expectError(withClient("    verify_server_policy: [ENFORCED]\n"), 6,
              policy + "a string, got a sequence");
  expectError(withClient("    verify_server_properties: BOTH\n"), 6,
              properties + "NONE, SIGNATURE, NAME or ALL, got 'BOTH'");
  expectError(withClient("    verify_server_properties:\n"), 6,
              properties + "a string, got nothing");
  for (const char* bad : {"-1", "abc", "1.5", "[1]", "99999999999"}) {
    expectError(withClient("    handshake_timeout_in: " + std::string(bad) + "\n"), 6,
                "ssl.client.handshake_timeout_in must be a non-negative integer (seconds), got " +
                    std::string(bad[0] == '[' ? "a sequence" : "'" + std::string(bad) + "'"));
    expectError(withClient("    session_cache: " + std::string(bad) + "\n"), 6,
                "ssl.client.session_cache must be a non-negative integer (entries), got " +
                    std::string(bad[0] == '[' ? "a sequence" : "'" + std::string(bad) + "'"));
  }
  for (const char* bad : {"0", "101", "-1", "abc", "2.5"}) {
    expectError(
        withClient("    verify_depth: " + std::string(bad) + "\n"), 6,
        "ssl.client.verify_depth must be an integer from 1 to 100, got '" + std::string(bad) + "'");
  }
  expectError(withClient("    ca_certs: \"\"\n"), 6,
              "ssl.client.ca_certs must name a file or a directory");
  expectError(withClient("    cert: \"\"\n    key: k.pem\n"), 6,
              "ssl.client.cert must name a file");
  expectError(withClient("    cert: c.pem\n    key: {file: k.pem}\n"), 7,
              "ssl.client.key must be a string, got a mapping");
}

TEST(GatewayConfigTest, ClientCertAndKeyComeTogether) {
  // Reported at the line of `client`, here line 6.
  expectError(withSsl("  alpn: [h2]\n  client:\n    verify_depth: 2\n    cert: c.pem\n"), 6,
              "ssl.client.cert needs ssl.client.key");
  expectError(withSsl("  alpn: [h2]\n  client:\n    key: k.pem\n"), 6,
              "ssl.client.key needs ssl.client.cert");
}

TEST(GatewayConfigTest, ClientAlpnHasTheChecksOfSslAlpn) {
  expectError(withClient("    alpn:\n      - h2\n      - http/1.1\n      - h2\n"), 9,
              "ssl.client.alpn lists 'h2' twice");
  expectError(withClient("    alpn:\n      - \"\"\n"), 7,
              "ssl.client.alpn entry '' must be 1 to 255 bytes long");
  expectError(withClient("    alpn: [" + std::string(256, 'x') + "]\n"), 6,
              "ssl.client.alpn entry '" + std::string(256, 'x') + "' must be 1 to 255 bytes long");
  expectError(withClient("    alpn: h2\n"), 6,
              "ssl.client.alpn must be a sequence of protocol names, got 'h2'");
  expectError(withClient("    alpn:\n      - [h2]\n"), 7,
              "ssl.client.alpn entries must be strings, got a sequence");
}

// --- routes ---

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

TEST(GatewayConfigTest, UnknownBuiltinEndpoint) {
  auto err = parseFail(withRoute("builtin:echo"));
  EXPECT_EQ(err.line, 6);
  EXPECT_TRUE(contains(err.message, "unknown built-in endpoint 'builtin:echo'")) << err.message;
}

TEST(GatewayConfigTest, RouteThatIsNotHostPort) {
  for (const char* bad : {"127.0.0.1", "upstream", "127.0.0.1:99999"}) {
    auto err = parseFail(withRoute(bad));
    EXPECT_EQ(err.line, 6) << bad;
    EXPECT_TRUE(contains(err.message, "routes.default")) << err.message;
    EXPECT_TRUE(contains(err.message, "'" + std::string(bad) + "' is not host:port"))
        << err.message;
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

TEST(GatewayConfigTest, InspectIsNotAnUpstream) {
  for (const char* builtin : {"builtin:inspect", "builtin:echo"}) {
    expectError(withRoutes("  default:\n    upstream: " + std::string(builtin) + "\n"), 7,
                "routes.default.upstream must be host:port, got '" + std::string(builtin) +
                    "' (write builtin:inspect as the plain string routes.default: "
                    "builtin:inspect)");
  }
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

TEST(GatewayConfigTest, ListenerOptions) {
  auto c = parseOk(withListeners(
      "  - listen: 0.0.0.0:8443\n"
      "    transparent: true\n"
      "    passthrough: true\n"
      "    proxy_protocol: true\n"
      "    proxy_protocol_from: [127.0.0.1, 10.0.0.0/8]\n"));
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_TRUE(c.listeners[0].transparent);
  EXPECT_TRUE(c.listeners[0].passthrough);
  EXPECT_TRUE(c.listeners[0].proxyProtocol);
  EXPECT_EQ(c.listeners[0].proxyProtocolFrom,
            (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8"}));
  EXPECT_EQ(c.listeners[0].proxyProtocolFromLine, 6);
}

TEST(GatewayConfigTest, ProxyProtocolNeedsItsSources) {
  auto err = parseFail(withListeners("  - listen: 0.0.0.0:8443\n    proxy_protocol: true\n"));
  EXPECT_EQ(err.line, 2);
  EXPECT_TRUE(contains(err.message, "needs listener.proxy_protocol_from")) << err.message;
  auto orphan = parseFail(
      withListeners("  - listen: 0.0.0.0:8443\n    proxy_protocol_from: [127.0.0.1]\n"));
  EXPECT_TRUE(contains(orphan.message, "proxy_protocol is not true")) << orphan.message;
  auto notBool = parseFail(withListeners("  - listen: 0.0.0.0:8443\n    transparent: yes\n"));
  EXPECT_EQ(notBool.line, 3);
  EXPECT_TRUE(contains(notBool.message, "listener.transparent must be true or false"))
      << notBool.message;
}

TEST(GatewayConfigTest, SniFileAndTunnelTimeout) {
  auto c = parseOk(kMinimal + "sni: routing/sni.yaml\ntunnel:\n  inactivity_timeout: 60\n");
  EXPECT_EQ(c.sniPath, "/etc/tlsgate/routing/sni.yaml");
  EXPECT_EQ(c.sniLine, 7);
  EXPECT_EQ(c.tunnel.inactivityTimeoutSec, 60u);
  EXPECT_EQ(parseOk(kMinimal).tunnel.inactivityTimeoutSec, 300u);
  auto bad = parseFail(kMinimal + "tunnel:\n  inactivity_timeout: -1\n");
  EXPECT_EQ(bad.line, 8);
  EXPECT_TRUE(contains(bad.message, "tunnel.inactivity_timeout")) << bad.message;
}

// --- the document as a whole ---

TEST(GatewayConfigTest, EmptyDocument) {
  for (const char* text : {"", "# only a comment\n"}) {
    auto err = parseFail(text);
    EXPECT_EQ(err.line, 0);
    EXPECT_TRUE(contains(err.message, "empty")) << err.message;
  }
}

TEST(GatewayConfigTest, TopLevelMustBeAMapping) {
  auto err = parseFail("- a\n- b\n");
  EXPECT_EQ(err.line, 1);
  EXPECT_TRUE(contains(err.message, "the file must be a mapping, got a sequence")) << err.message;
}

TEST(GatewayConfigTest, YamlSyntaxErrorHasItsLine) {
  auto err = parseFail(withSsl("  alpn: [h2, http/1.1\n"));
  EXPECT_EQ(err.file, kPath);
  EXPECT_EQ(err.line, 6);  // yaml-cpp notices the unclosed '[' on the next line
  EXPECT_TRUE(contains(err.message, "invalid YAML")) << err.message;

  auto tab = parseFail("listeners:\n  - listen: 127.0.0.1:1\n\tssl: x\n");
  EXPECT_EQ(tab.line, 3);
  EXPECT_TRUE(contains(tab.message, "invalid YAML")) << tab.message;
}

// --- loadGatewayConfig ---

class GatewayConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gateway_config_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

TEST_F(GatewayConfigFileTest, LoadResolvesMulticertNextToTheFile) {
  const auto path = (dir_ / "tlsgate.yaml").string();
  std::ofstream(path) << kMinimal;
  auto r = loadGatewayConfig(path);
  ASSERT_TRUE(r.ok()) << r.error().toString();
  EXPECT_EQ(r->path, path);
  EXPECT_EQ(r->ssl.multicertPath, (dir_ / "ssl_multicert.config").string());
}

TEST_F(GatewayConfigFileTest, LoadErrorNamesTheFileAndLine) {
  const auto path = (dir_ / "tlsgate.yaml").string();
  std::ofstream(path) << kMinimal << "bogus: 1\n";
  auto r = loadGatewayConfig(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().toString().rfind(path + ":7: unknown key 'bogus'", 0), 0u)
      << r.error().toString();
}

TEST_F(GatewayConfigFileTest, MissingFileIsLineZero) {
  const auto path = (dir_ / "nope.yaml").string();
  auto r = loadGatewayConfig(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, path);
  EXPECT_EQ(r.error().line, 0);
  EXPECT_EQ(r.error().message, "cannot read: No such file or directory");
}

// --- drain_timeout (SIGTERM) ---

TEST(GatewayConfigTest, DrainTimeout) {
  EXPECT_EQ(parseOk(kMinimal).drainTimeoutSec, 30u);
  EXPECT_EQ(parseOk(kMinimal + "drain_timeout: 5\n").drainTimeoutSec, 5u);
  EXPECT_EQ(parseOk(kMinimal + "drain_timeout: 0\n").drainTimeoutSec, 0u);
  for (const char* bad : {"drain_timeout: -1\n", "drain_timeout: soon\n", "drain_timeout: [1]\n"}) {
    auto err = parseFail(kMinimal + bad);
    EXPECT_EQ(err.file, kPath);
    EXPECT_EQ(err.line, 7) << bad;
    EXPECT_EQ(err.message.rfind("drain_timeout must be a non-negative integer (seconds)", 0), 0u)
        << err.message;
  }
}

}  // namespace
}  // namespace tlsgate::config
