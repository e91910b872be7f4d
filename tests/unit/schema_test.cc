// The configuration schema (config/schema.h): the documents that show it match it, every
// key it declares is parsed, enumerations follow it, and an unknown key gets a hint.
#include "config/schema.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/gateway_config.h"
#include "config/sni_config.h"

namespace tlsgate::config {
namespace {

std::string between(const std::string& path, const std::string& open, const std::string& close) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  size_t start = s.find(open);
  size_t end = s.find(close);
  if (start == std::string::npos || end == std::string::npos)
    return "(markers missing in " + path + ")";
  start += open.size();
  return s.substr(start, end - start);
}

TEST(SchemaTest, TheReadmeShowsTheReferenceAsTheSchemaMakesIt) {
  EXPECT_EQ(
      between(TLSGATE_SOURCE_DIR "/README.md", "<!-- config-keys -->\n", "<!-- /config-keys -->"),
      schema::markdownReference())
      << "run build/tlsgate --config-keys and paste it between the README's markers";
}

TEST(SchemaTest, TheManPageShowsTheReferenceAsTheSchemaMakesIt) {
  EXPECT_EQ(between(TLSGATE_SOURCE_DIR "/docs/tlsgate.8.scd", "; config-keys\n", "; /config-keys"),
            schema::scdocReference());
}

// A tlsgate.yaml that sets every key the schema declares.
const std::string kEveryKey = R"(threads: 2
listeners:
  - listen: 127.0.0.1:8443
    transparent: false
    passthrough: false
    proxy_protocol: true
    proxy_protocol_from: [10.0.0.0/8]
    max_connections: 1000
ssl:
  multicert: ssl_multicert.config
  handshake_timeout_in: 30
  allow_client_renegotiation: false
  multicert_partial_reload: true
  cert_cache_size: 500
  alpn: [h2, http/1.1]
  protocols: [TLSv1.2, TLSv1.3]
  ciphers: ECDHE-ECDSA-AES128-GCM-SHA256
  ciphersuites: TLS_AES_128_GCM_SHA256
  groups: X25519:P-256
  verify_client: MODERATE
  verify_client_ca_certs: clients.pem
  client:
    handshake_timeout_in: 30
    verify_server_policy: PERMISSIVE
    verify_server_properties: NAME
    ca_certs: origins.pem
    verify_depth: 4
    cert: client.crt
    key: client.key
    alpn: [h2]
    session_cache: 10
    groups: X25519
  server:
    ticket_key:
      rotation: 600
      redis: {address: 127.0.0.1:6379, key_prefix: "k:", password_file: p, poll_interval: 1}
    session:
      timeout: 300
      cache: {enabled: true, size: 10}
  wire_trace: {client_ip: 127.0.0.1, server_name: a.test, percentage: 50}
  keylog_file: keys.log
  cert_directory: {path: certs, cache_size: 10, negative_ttl: 30, timeout: 2}
routes:
  default: {upstream: 127.0.0.1:9443, tls: true, sni: a, cert: c.crt, key: c.key, ca_certs: ca.pem, alpn: [h2]}
  alpn: {h2: 127.0.0.1:9001}
  send_proxy_protocol: v2
sni: sni.yaml
tunnel: {inactivity_timeout: 60}
relay: {inactivity_timeout: 120}
inspect: {request_timeout: 5}
connect_timeout: 3
plugins:
  - {path: p.so, args: [a]}
admin: {listen: 127.0.0.1:9090}
access_log: {path: stderr}
drain_timeout: 10
admission:
  source_prefix_v4: 24
  source_prefix_v6: 64
  max_connections: 0
  max_handshakes: 0
  per_source_connections: 100
  per_source_handshakes: 50
  shed: {enabled: true, max_loop_lag_ms: 10, max_handshakes: 0}
  rules:
    - {source: 10.0.0.0/8, listener: 127.0.0.1:8443, action: allow}
    - {sni: a.test, ja4: t13d1516h2_8daaf6152771_e5627efa2ab1, action: deny, deny_with: alert}
    - action: limit
      per: source
      connections_per_second: 20
      connection_burst: 40
      handshakes_per_second: 10
      handshake_burst: 20
acme:
  directory: https://acme.test/directory
  ca_file: /etc/ssl/certs/ca-certificates.crt
  contact: [mailto:ops@a.test]
  account_key: /nonexistent/tlsgate-schema-test/account.key
  state_dir: /var/lib/tlsgate/acme
  key_type: rsa
  challenges: [http-01, tls-alpn-01]
  renew_remaining: 0.25
  http_listener: {address: 127.0.0.1:8080, redirect_https: false}
  redis: {address: 127.0.0.1:6379, key_prefix: "fleet:acme:", password_file: redis.pass, poll_interval: 1}
  certificates:
    - names: [a.test, www.a.test]
  on_demand: {ask: "http://127.0.0.1:9000/check", timeout: 20, rate: 10, backoff: 600, fallback: alert}
)";

const std::string kEverySniKey = R"(sni:
  - fqdn: '*.a.test'
    partial_blind_route: $1.b:443
    ip_allow: [10.0.0.0/8]
    valid_tls_version_min_in: TLSv1_2
    valid_tls_version_max_in: TLSv1_3
    verify_client: STRICT
    verify_client_ca_certs: ca.pem
    alpn_routes: {h2: 127.0.0.1:9001}
    send_proxy_protocol: v1
    verify_server_policy: ENFORCED
    verify_server_properties: ALL
    client_cert: c.crt
    client_key: c.key
    origin_ca_certs: o.pem
    origin_alpn: [h2]
    ssl_ticket_enabled: 1
    ssl_ticket_number: 2
  - fqdn: t.test
    tunnel_route: t:443
  - fqdn: f.test
    forward_route: f:80
  - fqdn: s.test
    partial_blind_route: s:443
    client_sni_policy: server_name
  - fqdn: o.test
    partial_blind_route: o:443
    origin_sni: o
)";

TEST(SchemaTest, EveryDeclaredKeyIsParsed) {
  auto yaml = parseGatewayConfig(kEveryKey, "/etc/tlsgate/tlsgate.yaml");
  ASSERT_TRUE(yaml.ok()) << yaml.error().toString();
  // The ticket key file excludes Redis and the rotation: the same with it instead.
  std::string withFile = kEveryKey;
  const std::string keys = "      rotation: 600\n      redis: {";
  withFile.replace(withFile.find(keys),
                   withFile.find("}\n", withFile.find(keys)) + 2 - withFile.find(keys),
                   "      filename: ticket.key\n");
  auto file = parseGatewayConfig(withFile, "/etc/tlsgate/tlsgate.yaml");
  ASSERT_TRUE(file.ok()) << file.error().toString();
  auto sni = parseSniConfig(kEverySniKey, "/etc/tlsgate/sni.yaml");
  ASSERT_TRUE(sni.ok()) << sni.error().toString();
  // ... and the two files above do name every key of the schema.
  for (const schema::Key& k : schema::keys()) {
    const std::string text = k.file == "sni.yaml" ? kEverySniKey : kEveryKey + withFile;
    EXPECT_NE(text.find(std::string(k.name) + ":"), std::string::npos) << k.path();
  }
  EXPECT_EQ(yaml->ssl.verifyClient, VerifyClient::kModerate);
  EXPECT_EQ(yaml->ssl.client.policy, VerifyServerPolicy::kPermissive);
  EXPECT_EQ(yaml->ssl.client.properties, VerifyServerProperties::kName);
  EXPECT_EQ(yaml->routes.sendProxyProtocol, 2);
  EXPECT_EQ(sni->rules[0].verifyClient, VerifyClient::kStrict);
  EXPECT_EQ(sni->rules[0].minVersion, TlsVersion::kTls12);
  EXPECT_EQ(sni->rules[0].maxVersion, TlsVersion::kTls13);
  EXPECT_EQ(sni->rules[0].sendProxyProtocol, 1);
}

TEST(SchemaTest, EnumerationsFollowTheSchemasOrder) {
  const schema::Key* policy = schema::find("tlsgate.yaml", "ssl.client", "verify_server_policy");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->allowed[static_cast<size_t>(VerifyServerPolicy::kDisabled)], "DISABLED");
  const schema::Key* props = schema::find("sni.yaml", "sni[]", "verify_server_properties");
  ASSERT_NE(props, nullptr);
  EXPECT_EQ(props->allowed[static_cast<size_t>(VerifyServerProperties::kSignature)], "SIGNATURE");
  const schema::Key* level = schema::find("tlsgate.yaml", "ssl", "verify_client");
  ASSERT_NE(level, nullptr);
  EXPECT_EQ(level->allowed[static_cast<size_t>(VerifyClient::kStrict)], "STRICT");
}

TEST(SchemaTest, AnUnknownKeyNamesTheNearestKnownOne) {
  auto r = parseGatewayConfig(
      "listeners:\n  - listen: 127.0.0.1:8443\nssl:\n  multicert: m\n  alpm: [h2]\nroutes:\n"
      "  default: builtin:inspect\n",
      "/etc/tlsgate/tlsgate.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().hint, "did you mean 'alpn'?");
  EXPECT_NE(r.error().toString().find("tlsgate.yaml:5: unknown key 'alpm' in ssl"),
            std::string::npos);
  EXPECT_NE(r.error().toString().find("(did you mean 'alpn'?)"), std::string::npos)
      << r.error().toString();
  auto far = parseGatewayConfig("monitoring: {}\n", "/etc/tlsgate/tlsgate.yaml");
  ASSERT_FALSE(far.ok());
  EXPECT_EQ(far.error().hint, "") << "nothing close to suggest";
}

}  // namespace
}  // namespace tlsgate::config
