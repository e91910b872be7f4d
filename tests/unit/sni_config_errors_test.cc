// sni.yaml parsing: every error, with its file and line.
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
       // Messages quote 80 bytes of a value at most.
       "fqdn '" + std::string(80, 'x') + "\u2026': is longer than 253 characters"},
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
       "alpn_routes protocol '" + longId.substr(0, 80) + "\u2026' must be 1 to 255 bytes"},
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

}  // namespace
}  // namespace tlsgate::config
