// tlsgate.yaml: the gateway's own configuration file.
//
//   threads: auto                # or 1 to 1024; auto = number of cores
//   listeners:
//     - listen: 127.0.0.1:8443   # literal address and port
//       transparent: false       # IP_TRANSPARENT: accept TPROXY-redirected connections (S5)
//       passthrough: false       # S9: a first byte that is not TLS → tunnel to the destination
//       proxy_protocol: false    # expect a PROXY v1/v2 header first...
//       proxy_protocol_from: [10.0.0.0/8]   # ...from these sources only (required with it)
//   ssl:
//     multicert: ssl_multicert.config   # relative to this file
//     handshake_timeout_in: 30          # seconds, 0 = none (S1)
//     allow_client_renegotiation: false # S12
//     alpn: [http/1.1]                  # server preference order (S14)
//     protocols: [TLSv1.2, TLSv1.3]     # allowed versions
//     ciphers: ...                      # TLS 1.2 cipher list (OpenSSL syntax)
//     ciphersuites: ...                 # TLS 1.3 suites
//     groups: X25519MLKEM768:X25519/P-256:P-384   # key exchange groups (default: tls/groups.h)
//     verify_client: NONE               # NONE | MODERATE | STRICT (client certificates)
//     verify_client_ca_certs: ca.pem    # CAs that sign client certificates (not NONE)
//     client: {...}                     # TLS towards origins: see ClientTlsConfig
//     wire_trace: {client_ip: 127.0.0.1, server_name: a.test, percentage: 100}
//                                       # S21: trace the handshakes that match (see
//                                       # wire_trace_config.h); absent: none
//     keylog_file: /path/keys.log       # NSS key log of every session (debugging only:
//                                       # whoever reads it decrypts the traffic)
//     server: {...}                     # session resumption: see ServerTlsConfig
//     cert_directory: {path: certs}     # certificates loaded on demand by name (see
//                                       # cert_directory_config.h); absent: none
//   sni: sni.yaml                       # optional: ATS sni.yaml, routing by server name
//   tunnel:
//     inactivity_timeout: 300           # seconds a blind tunnel may stay silent; 0 = forever
//   relay: {inactivity_timeout: 300}    # the same for relays (plaintext and to origins)
//   inspect: {request_timeout: 30}      # builtin:inspect: seconds for each request
//   connect_timeout: 10                 # resolving + connecting to an upstream
//   routes:
//     default: builtin:inspect          # or host:port of a plaintext upstream; optional
//                                       # TLS to it: {upstream: host:port, tls: true, sni: x,
//                                       #   ca_certs: f, cert: c, key: k, alpn: [h2]}
//     alpn:                             # optional: one endpoint per ALPN protocol (S14)
//       h2: 127.0.0.1:9001
//     send_proxy_protocol: v2           # optional: PROXY header to these upstreams (v1|v2)
//   drain_timeout: 30                   # SIGTERM: seconds connections may take to finish
//   plugins:                            # optional, loaded in order (include/tlsgate/plugin.h)
//     - path: plugins/hook_test.so      # relative to this file
//       args: [--hook, cert]
//   admin:                              # optional: the admin HTTP endpoint (absent = none)
//     listen: 127.0.0.1:9090            # /metrics /stats /health /certs /reload /debug /reopen
//   access_log:                         # optional: one JSON line per connection (absent = off)
//     path: /var/log/tlsgate/access.log # relative to this file, or "stderr"
//
// Every mapping key is checked: an unknown key, a wrong type or a bad value is an error that
// names the file and line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/acme_config.h"
#include "config/cert_directory_config.h"
#include "config/wire_trace_config.h"
#include "core/result.h"
#include "net/address.h"
#include "proxy/admission_rules.h"
#include "tls/tls_settings.h"

namespace tlsgate::config {

struct ListenerConfig {
  int line = 0;
  net::Address address;        // always has a port
  bool transparent = false;    // IP_TRANSPARENT; the local address is the original destination
  bool passthrough = false;    // S9
  bool proxyProtocol = false;  // a PROXY v1/v2 header comes first
  // Sources allowed to send it, as written ("10.0.0.0/8"); checked by the snapshot.
  std::vector<std::string> proxyProtocolFrom;
  int proxyProtocolFromLine = 0;
  uint32_t maxConnections = 0;  // open at once; 0 = no limit
};

// The TLS layer's own settings types (tls/tls_settings.h), by their configuration names.
using tls::TlsVersion;
using tls::VerifyClient;
using tls::VerifyServerPolicy;
using tls::VerifyServerProperties;

// ssl.client: TLS towards origins (S2, S17-S19).
//
//   ssl:
//     client:
//       handshake_timeout_in: 30        # seconds; 0 = none
//       verify_server_policy: ENFORCED  # ENFORCED | PERMISSIVE | DISABLED
//       verify_server_properties: ALL   # ALL | SIGNATURE | NAME | NONE
//       ca_certs: origin-ca.pem         # file or directory; default: the system store
//       verify_depth: 7
//       cert: client.crt                # presented when an origin asks; key required with it
//       key: client.key
//       alpn: [h2, http/1.1]            # offered to origins; default: what the client negotiated
//       session_cache: 1024             # origin sessions kept for resumption; 0 = off
//       groups: X25519MLKEM768:X25519    # offered to origins (default: tls/groups.h)
struct ClientTlsConfig {
  int line = 0;
  unsigned handshakeTimeoutSec = 30;
  VerifyServerPolicy policy = VerifyServerPolicy::kEnforced;
  VerifyServerProperties properties = VerifyServerProperties::kAll;
  std::string caCerts;  // resolved against the folder of tlsgate.yaml; empty: system store
  unsigned verifyDepth = 7;
  std::string cert;                              // resolved; empty: no client certificate
  std::string key;                               // resolved; required when cert is given
  std::optional<std::vector<std::string>> alpn;  // absent: what the client negotiated
  unsigned sessionCache = 1024;
  std::string groups;  // empty: the built-in default (tls/groups.h)
};

// ssl.server: session resumption towards clients (tickets, session ID cache).
//
//   ssl:
//     server:
//       ticket_key:
//         filename: ticket.key      # ATS's format: N x 48 bytes; the first encrypts, all
//                                   # decrypt; re-read on every reload
//         rotation: 43200           # without a file: a random key per process, replaced
//                                   # every this many seconds (default 12 h)
//         redis: {address: 127.0.0.1:6379, key_prefix: "tlsgate:stek:",
//                 password_file: redis.pass, poll_interval: 1}   # a key ring shared by a
//                                   # fleet: see config/ticket_redis_config.h
//       session:
//         timeout: 7200             # seconds a ticket / cached session resumes (2 h)
//         cache: {enabled: false, size: 20480}   # TLS 1.2 session ID cache (off, as ATS)
struct TicketRedisConfig {
  int line = 0;
  std::string address;  // "host:port"
  std::string keyPrefix = "tlsgate:stek:";
  std::string passwordFile;  // resolved; empty: no AUTH
  // Parsed by config/ticket_redis_config.cc:
  std::string host;   // of address
  uint16_t port = 0;  // of address
  int passwordFileLine = 0;
  std::chrono::milliseconds pollInterval{1000};

  bool operator==(const TicketRedisConfig&) const = default;
};

struct TicketKeyConfig {
  int line = 0;
  std::string filename;  // resolved against the folder of tlsgate.yaml; empty: none
  int filenameLine = 0;  // where it is named (errors about the file's content point here)
  unsigned rotationSec = 43200;
  std::optional<TicketRedisConfig> redis;
};

struct SessionCacheConfig {
  bool enabled = false;
  unsigned size = 20480;
};

struct ServerTlsConfig {
  int line = 0;
  TicketKeyConfig ticketKey;
  unsigned sessionTimeoutSec = 7200;
  SessionCacheConfig sessionCache;
};

struct SslConfig {
  std::string multicertPath;  // resolved against the folder of tlsgate.yaml
  int multicertLine = 0;      // where it was named, for errors about the file as a whole
  unsigned handshakeTimeoutSec = 30;
  bool allowClientRenegotiation = false;
  bool multicertPartialReload = false;  // a bad entry is skipped, not fatal (issue 19)
  unsigned certCacheSize = 10000;       // parsed certificates kept (tls/parsed_cert_cache.h)
  std::vector<std::string> alpn{"http/1.1"};
  bool alpnGiven = false;  // ssl.alpn written: offer exactly that
  TlsVersion minVersion = TlsVersion::kTls12;
  TlsVersion maxVersion = TlsVersion::kTls13;
  std::string ciphers;       // empty: the built-in default
  std::string ciphersuites;  // empty: the built-in default
  std::string groups;        // empty: the built-in default (tls/groups.h)
  VerifyClient verifyClient = VerifyClient::kNone;
  std::string verifyClientCaCerts;  // CA file, resolved against the folder of tlsgate.yaml
  ClientTlsConfig client;
  std::optional<WireTraceConfig> wireTrace;  // S21; absent: nothing is traced
  std::string keylogFile;                    // resolved; empty: no key log
  int keylogLine = 0;
  ServerTlsConfig server;
  std::optional<CertDirectoryConfig> certDirectory;  // absent: no on-demand directory
};

// An endpoint written in tlsgate.yaml: "builtin:inspect", "host:port", or the mapping
// {upstream: host:port, tls: true, sni: name} for TLS to the upstream (an origin).
struct RouteTarget {
  int line = 0;
  bool inspect = false;      // builtin:inspect
  std::string upstreamText;  // "host:port" as written, when !inspect
  net::Address upstream;     // when the upstream is a literal address (else unset)
  bool tls = false;          // re-encrypt to the upstream (ssl.client settings)
  // S18: the name sent to the origin. Absent: the client's SNI; "": none (the origin's
  // certificate must then match its IP address, S19).
  std::optional<std::string> originSni;
  // Overrides of ssl.client for this route (tls: true only): client certificate and key,
  // CA file or directory, ALPN offered to the origin. Paths resolved like ssl.client's.
  std::string clientCert;
  std::string clientKey;
  std::string caCerts;
  std::optional<std::vector<std::string>> originAlpn;
};

// routes: the endpoints of tlsgate.yaml (S14). sni.yaml can override them per name.
struct RoutesConfig {
  std::optional<RouteTarget> defaultRoute;  // no ALPN, and protocols without their own
  std::vector<std::pair<std::string, RouteTarget>> alpn;  // protocol → endpoint, file order
  int sendProxyProtocol = 0;                              // 0, 1 or 2
};

struct TunnelConfig {
  unsigned inactivityTimeoutSec = 300;  // 0 = none
};

// relay: terminated connections relayed to an upstream or origin.
struct RelayConfig {
  unsigned inactivityTimeoutSec = 300;  // both directions silent this long: close; 0 = none
};

// inspect: the builtin:inspect endpoint.
struct InspectConfig {
  // From the handshake's end, then from each answered request, until the next request is in
  // (and the previous response taken); 0 = none.
  unsigned requestTimeoutSec = 30;
};

// "builtin:inspect", or "host:port". `label` names the key in messages.
// (A literal address is kept in `upstream`; a name is resolved when the gateway starts.)
Result<RouteTarget> parseRouteTarget(std::string_view text, const std::string& path, int line,
                                     const std::string& label);

namespace yaml {
struct Field;
}

// parseProtocolNames reads a list of ALPN protocol ids, the value of every key that names
// protocols (ssl.alpn, ssl.client.alpn, a route's alpn, sni.yaml's origin_alpn): a sequence of
// RFC 7301 ids of 1..255 bytes, each once; [] is an empty list. Errors name `path`, the line
// of the offending entry, and the key as `label`.
Result<std::vector<std::string>> parseProtocolNames(const yaml::Field& f, const std::string& path,
                                                    const std::string& label);

// certKeyPairProblem is "" when a client certificate and its key are both given or both
// absent (empty), else "<certName> needs <keyName>" or "<keyName> needs <certName>" (S17).
std::string certKeyPairProblem(std::string_view cert, std::string_view key,
                               const std::string& certName, const std::string& keyName);

// plugins: [{path: hook_test.so, args: [...]}] — loaded in this order.
struct PluginConfig {
  int line = 0;
  std::string path;  // resolved against the folder of tlsgate.yaml
  std::vector<std::string> args;
};

// admin: the admin endpoint (README "Operations").
struct AdminConfig {
  int line = 0;
  net::Address address;  // always has a port
};

// access_log: one JSON line per connection at close.
struct AccessLogConfig {
  int line = 0;
  std::string path;  // resolved against the folder of tlsgate.yaml, or "stderr"
};

// The most worker threads tlsgate.yaml may ask for (D10).
inline constexpr unsigned kMaxThreads = 1024;

struct GatewayConfig {
  std::string path;  // of tlsgate.yaml, as given
  unsigned threads = 0;
  std::vector<ListenerConfig> listeners;
  SslConfig ssl;
  RoutesConfig routes;
  std::string sniPath;  // sni.yaml, resolved against the folder of tlsgate.yaml; may be empty
  int sniLine = 0;
  TunnelConfig tunnel;
  RelayConfig relay;
  InspectConfig inspect;
  unsigned connectTimeoutSec = 10;  // resolving and connecting to an upstream; 0 = none
  std::vector<PluginConfig> plugins;
  std::optional<AdminConfig> admin;
  std::optional<AccessLogConfig> accessLog;
  unsigned drainTimeoutSec = 30;       // SIGTERM: then the connections left are closed; 0 = at once
  proxy::AdmissionSettings admission;  // README "Admission control"
  std::optional<AcmeConfig> acme;      // README "Automatic certificates (ACME)"
};

// Pure parser over the file's text (`path` is used for messages and relative names).
// threads: auto is resolved with std::thread::hardware_concurrency().
Result<GatewayConfig> parseGatewayConfig(std::string_view text, const std::string& path);
Result<GatewayConfig> loadGatewayConfig(const std::string& path);

}  // namespace tlsgate::config
