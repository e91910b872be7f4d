// tlsgate.yaml parsing: ssl (versions, ALPN, ciphers, client certificates, ssl.client,
// wire trace, key log).
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

TEST(GatewayConfigTest, MissingMulticertReportsSslLine) {
  auto err = parseFail(
      "listeners:\n  - listen: 127.0.0.1:1\nssl:\n  alpn: [h2]\nroutes:\n  default: "
      "builtin:inspect\n");
  EXPECT_EQ(err.line, 3);
  EXPECT_TRUE(contains(err.message, "missing required key 'ssl.multicert'")) << err.message;
}

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
                    (bad[0] == '[' ? std::string("a sequence") : inQuotes(bad)));
    expectError(withClient("    session_cache: " + std::string(bad) + "\n"), 6,
                "ssl.client.session_cache must be a non-negative integer (entries), got " +
                    (bad[0] == '[' ? std::string("a sequence") : inQuotes(bad)));
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

}  // namespace
}  // namespace tlsgate::config
