// tlsgate.yaml parsing: the top level, threads, listeners, plugins, files.
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

namespace tlsgate::config {
namespace {

using namespace yaml_testing;

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
  for (const char* bad :
       {"abc", "0", "-1", "1.5", "[1]", "{a: 1}", "\"\"", "Auto", "1025", "100000"}) {
    auto err = parseFail(kMinimal + "threads: " + bad + "\n");
    EXPECT_EQ(err.file, kPath);
    EXPECT_EQ(err.line, 7) << bad;
    EXPECT_TRUE(contains(err.message, "threads must be an integer from 1 to 1024 or 'auto'"))
        << err.message;
  }
}

// D10: the upper bound itself is accepted.
TEST(GatewayConfigTest, ThreadsUpTo1024) {
  EXPECT_EQ(parseOk("threads: 1024\n" + kMinimal).threads, 1024u);
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

TEST(GatewayConfigTest, UnknownKeyInsideListener) {
  auto err =
      parseFail(withListeners("  - listen: 127.0.0.1:1\n"
                              "  - listen: 127.0.0.1:2\n"
                              "    backlog: 10\n"));
  EXPECT_EQ(err.line, 4);
  EXPECT_TRUE(contains(err.message, "unknown key 'backlog'")) << err.message;
  EXPECT_TRUE(contains(err.message, "listener")) << err.message;
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

// D6: the same address twice would bind twice and share connections; port 0 twice is two
// ports.
TEST(GatewayConfigTest, DuplicateListenerIsAnError) {
  auto err = parseFail(withListeners(
      "  - listen: 127.0.0.1:8443\n  - listen: 127.0.0.1:9443\n  - listen: 127.0.0.1:8443\n"));
  EXPECT_EQ(err.line, 4);
  EXPECT_EQ(err.message, "listener 127.0.0.1:8443 is already listed at line 2");
  auto v6 = parseFail(withListeners("  - listen: \"[::1]:1\"\n  - listen: \"[0::1]:1\"\n"));
  EXPECT_EQ(v6.line, 3);
  auto c = parseOk(withListeners("  - listen: 127.0.0.1:0\n  - listen: 127.0.0.1:0\n"));
  EXPECT_EQ(c.listeners.size(), 2u);
}

// --- ssl ---

TEST(GatewayConfigTest, UnknownBuiltinEndpoint) {
  auto err = parseFail(withRoute("builtin:echo"));
  EXPECT_EQ(err.line, 6);
  EXPECT_TRUE(contains(err.message, "unknown built-in endpoint 'builtin:echo'")) << err.message;
}

TEST(GatewayConfigTest, InspectIsNotAnUpstream) {
  for (const char* builtin : {"builtin:inspect", "builtin:echo"}) {
    expectError(withRoutes("  default:\n    upstream: " + std::string(builtin) + "\n"), 7,
                "routes.default.upstream must be host:port, got '" + std::string(builtin) +
                    "' (write builtin:inspect as the plain string routes.default: "
                    "builtin:inspect)");
  }
}

TEST(GatewayConfigTest, ListenerOptions) {
  auto c =
      parseOk(withListeners("  - listen: 0.0.0.0:8443\n"
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
  auto orphan =
      parseFail(withListeners("  - listen: 0.0.0.0:8443\n    proxy_protocol_from: [127.0.0.1]\n"));
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

TEST(GatewayConfigTest, DataPhaseTimeouts) {
  auto defaults = parseOk(kMinimal);
  EXPECT_EQ(defaults.relay.inactivityTimeoutSec, 300u);
  EXPECT_EQ(defaults.inspect.requestTimeoutSec, 30u);
  EXPECT_EQ(defaults.connectTimeoutSec, 10u);
  auto c = parseOk(kMinimal +
                   "relay:\n  inactivity_timeout: 0\ninspect:\n  request_timeout: 5\n"
                   "connect_timeout: 2\n");
  EXPECT_EQ(c.relay.inactivityTimeoutSec, 0u);
  EXPECT_EQ(c.inspect.requestTimeoutSec, 5u);
  EXPECT_EQ(c.connectTimeoutSec, 2u);
  auto bad = parseFail(kMinimal + "inspect:\n  request_timeout: soon\n");
  EXPECT_EQ(bad.line, 8);
  EXPECT_TRUE(contains(bad.message, "inspect.request_timeout")) << bad.message;
  auto unknown = parseFail(kMinimal + "relay:\n  idle: 5\n");
  EXPECT_EQ(unknown.line, 8);
  auto negative = parseFail(kMinimal + "connect_timeout: -1\n");
  EXPECT_TRUE(contains(negative.message, "connect_timeout")) << negative.message;
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
