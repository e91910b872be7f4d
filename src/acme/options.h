// What the ACME manager (acme/manager.h) is told to do: the `acme:` section of tlsgate.yaml
// as plain data, resolved (paths absolute, the Redis password read). README "Automatic
// certificates (ACME)".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tlsgate::acme {

enum class CertKeyType : uint8_t { kEcdsaP256, kRsa2048 };

struct ManagedName {
  std::vector<std::string> names;  // lowercase; the first is the certificate's id
  bool operator==(const ManagedName&) const = default;
};

struct FleetOptions {  // acme.redis
  std::string host;
  uint16_t port = 6379;
  std::string keyPrefix = "tlsgate:acme:";
  std::string password;
  std::chrono::milliseconds pollInterval{1000};
  bool operator==(const FleetOptions&) const = default;
};

// acme.on_demand (README "On-demand certificates").
struct OnDemandOptions {
  std::string askUrl;                 // GET <askUrl>?domain=<name>: 200 allows the name
  std::chrono::seconds timeout{20};   // how long a handshake waits (and the ask's bound)
  int ratePerMinute = 10;             // orders per minute, all names together
  std::chrono::seconds backoff{600};  // a refused or failed name is not tried again before
  bool alertOnRefusal = false;        // fallback: alert; else the default certificate
  bool operator==(const OnDemandOptions&) const = default;
};

struct ManagerOptions {
  std::string directoryUrl;
  std::string caFile;  // verifies the ACME server; "" = the system's CAs
  std::vector<std::string> contact;
  std::string accountKeyFile;  // created (0600) when missing
  std::string stateDir;        // certificates/<id>.pem and <id>.key (0600)
  CertKeyType keyType = CertKeyType::kEcdsaP256;
  std::vector<std::string> challenges = {"tls-alpn-01", "http-01"};  // preference order
  double renewRemaining = 1.0 / 3;  // renew when this share of the lifetime is left
  std::vector<ManagedName> certificates;
  std::optional<FleetOptions> fleet;
  std::optional<OnDemandOptions> onDemand;
  bool operator==(const ManagerOptions&) const = default;
};

}  // namespace tlsgate::acme
