// The `acme:` section of tlsgate.yaml (README "Automatic certificates (ACME)"), parsed into
// acme::ManagerOptions. Every error names tlsgate.yaml, the line and the problem, and --check
// reads what can be read without the network: the CA bundle, and the account key when the
// file exists (it is created at start when missing).
//
//   acme:
//     directory: https://acme-v02.api.letsencrypt.org/directory   # required
//     ca_file: pebble.minica.pem     # verifies the ACME server; default: the system's CAs
//     contact: [mailto:ops@example.com]
//     account_key: acme/account.key  # default: <state_dir>/account.key; created 0600
//     state_dir: acme                # default: "acme" beside tlsgate.yaml
//     key_type: ecdsa                # ecdsa (P-256, default) or rsa (2048)
//     challenges: [tls-alpn-01, http-01]   # preference order
//     renew_remaining: 0.33          # renew when a third of the lifetime is left
//     http_listener: {address: "0.0.0.0:80", redirect_https: true}
//     redis: {address: "10.0.0.5:6379", key_prefix: "tlsgate:acme:", password_file: x,
//             poll_interval: 1}      # fleet mode
//     certificates:
//       - names: [example.com, www.example.com]
#pragma once

#include <optional>
#include <string>

#include "acme/options.h"
#include "core/result.h"
#include "net/address.h"

namespace tlsgate::config {

namespace yaml {
struct Field;
}
struct TicketRedisConfig;

struct AcmeHttpListener {
  net::Address address;
  bool redirectHttps = true;
  bool operator==(const AcmeHttpListener&) const = default;
};

struct AcmeConfig {
  int line = 0;
  acme::ManagerOptions options;  // without the Redis connection, which acmeOptions() adds
  std::optional<AcmeHttpListener> httpListener;
  std::string redisAddress;  // acme.redis, as TicketRedisConfig (parsed by the same code)
  std::string redisPrefix;
  std::string redisPasswordFile;
  int redisPasswordFileLine = 0;
  std::chrono::milliseconds redisPollInterval{1000};
  bool operator==(const AcmeConfig&) const = default;
};

// `dir`: the folder of tlsgate.yaml, against which relative paths are resolved.
Result<AcmeConfig> parseAcme(const yaml::Field& f, const std::string& path, const std::string& dir);

// The manager's options: `acme` with the Redis password read from its file.
Result<acme::ManagerOptions> acmeOptions(const AcmeConfig& acme, const std::string& path);

}  // namespace tlsgate::config
