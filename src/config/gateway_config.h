// tlsgate.yaml: the gateway's own configuration file.
//
//   threads: auto                # or a positive integer; auto = number of cores
//   listeners:
//     - listen: 127.0.0.1:8443   # literal address and port
//   ssl:
//     multicert: ssl_multicert.config   # relative to this file
//     handshake_timeout_in: 30          # seconds, 0 = none (S1)
//     allow_client_renegotiation: false # S12
//     alpn: [http/1.1]                  # server preference order (S14)
//     protocols: [TLSv1.2, TLSv1.3]     # allowed versions
//     ciphers: ...                      # TLS 1.2 cipher list (OpenSSL syntax)
//     ciphersuites: ...                 # TLS 1.3 suites
//     groups: X25519:P-256:P-384        # key exchange groups
//     verify_client: NONE               # NONE | MODERATE | STRICT (client certificates)
//     verify_client_ca_certs: ca.pem    # CAs that sign client certificates (not NONE)
//   routes:
//     default: builtin:inspect          # or host:port of a plaintext upstream
//   plugins:                            # optional, loaded in order (include/tlsgate/plugin.h)
//     - path: plugins/hook_test.so      # relative to this file
//       args: [--hook, cert]
//
// Every mapping key is checked: an unknown key, a wrong type or a bad value is an error that
// names the file and line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/address.h"

namespace tlsgate::config {

struct ListenerConfig {
  int line = 0;
  net::Address address;  // always has a port
};

enum class TlsVersion { kTls12, kTls13 };

// ATS's verify_client levels: NONE requests no client certificate; MODERATE verifies one
// that is presented but lets a client without one in; STRICT requires one.
enum class VerifyClient { kNone, kModerate, kStrict };

struct SslConfig {
  std::string multicertPath;  // resolved against the folder of tlsgate.yaml
  int multicertLine = 0;      // where it was named, for errors about the file as a whole
  unsigned handshakeTimeoutSec = 30;
  bool allowClientRenegotiation = false;
  std::vector<std::string> alpn{"http/1.1"};
  TlsVersion minVersion = TlsVersion::kTls12;
  TlsVersion maxVersion = TlsVersion::kTls13;
  std::string ciphers;       // empty: the built-in default
  std::string ciphersuites;  // empty: the built-in default
  std::string groups;        // empty: the built-in default
  VerifyClient verifyClient = VerifyClient::kNone;
  std::string verifyClientCaCerts;  // CA file, resolved against the folder of tlsgate.yaml
};

struct RouteTarget {
  bool inspect = false;      // builtin:inspect
  std::string upstreamText;  // "host:port" as written, when !inspect
  net::Address upstream;     // resolved at load time, when !inspect
};

// plugins: [{path: hook_test.so, args: [...]}] — loaded in this order.
struct PluginConfig {
  int line = 0;
  std::string path;  // resolved against the folder of tlsgate.yaml
  std::vector<std::string> args;
};

struct GatewayConfig {
  std::string path;  // of tlsgate.yaml, as given
  unsigned threads = 0;
  std::vector<ListenerConfig> listeners;
  SslConfig ssl;
  RouteTarget defaultRoute;
  std::vector<PluginConfig> plugins;
};

// Pure parser over the file's text (`path` is used for messages and relative names).
// threads: auto is resolved with std::thread::hardware_concurrency().
Result<GatewayConfig> parseGatewayConfig(std::string_view text, const std::string& path);
Result<GatewayConfig> loadGatewayConfig(const std::string& path);

}  // namespace tlsgate::config
