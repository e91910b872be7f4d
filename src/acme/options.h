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
  bool operator==(const ManagerOptions&) const = default;
};

}  // namespace tlsgate::acme
