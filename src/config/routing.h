// Routing: where each connection goes, compiled once per snapshot from tlsgate.yaml's
// routes and sni.yaml (S14, and the per-name actions of sni.yaml).
//
// An endpoint is decided in this order:
//   1. sni.yaml, first matching item: tunnel_route (decided at the ClientHello, before any
//      certificate work), then after the handshake its alpn_routes for the negotiated
//      protocol;
//   2. tlsgate.yaml routes.alpn for the negotiated protocol;
//   3. an endpoint a plugin registered for the protocol (the caller asks the registry);
//   4. the catch-all: the item's forward_route / partial_blind_route, else routes.default.
// A negotiated protocol that reaches none of them fails with S14's
// "no endpoint registered for '<proto>'"; no ALPN with no catch-all fails the same way.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/gateway_config.h"
#include "config/sni_config.h"
#include "core/result.h"
#include "net/address.h"
#include "tls/client_handshake.h"
#include "tls/client_verification.h"

namespace tlsgate::config {

enum class EndpointKind : uint8_t {
  kInspect,    // builtin:inspect
  kRelay,      // plaintext to an upstream (routes.*, forward_route, alpn_routes)
  kOriginTls,  // re-encrypted to an origin (partial_blind_route)
  kTunnel,     // blind tunnel, TLS never terminated (tunnel_route)
};

struct Endpoint {
  EndpointKind kind = EndpointKind::kInspect;
  std::string destination;              // "host:port" as written (may hold $1, {...})
  std::optional<net::Address> address;  // resolved at load time when it has no token
  int sendProxyProtocol = 0;            // 0, 1 or 2
  std::string source;                   // "sni.yaml:12", for messages
  // kOriginTls (S17-S19):
  std::optional<std::string> originSni;  // absent: the client's SNI; "": none
  SSL_CTX* originContext = nullptr;  // its own CA / client certificate; null: the snapshot's
  std::optional<std::vector<std::string>> originAlpn;  // absent: ssl.client.alpn
  tls::OriginVerification verification;
};

// What an sni.yaml item needs at run time, beyond its parsed keys.
struct SniPolicy {
  std::optional<Endpoint> action;                      // tunnel / forward / partial blind
  std::vector<std::pair<std::string, Endpoint>> alpn;  // alpn_routes
  std::unique_ptr<tls::ClientVerification> verify;     // verify_client, when given
};

class Routing {
 public:
  // Resolves every fixed destination and loads every per-name CA file; errors name the
  // file and line.
  static Result<std::unique_ptr<Routing>> build(const GatewayConfig& config);

  const SniConfig& sni() const { return sni_; }
  const SniPolicy& policy(const SniRule& rule) const {
    return policies_[static_cast<size_t>(&rule - sni_.rules.data())];
  }
  // Steps 1 (alpn_routes) and 2 of the order above; nullptr when neither names `protocol`.
  const Endpoint* forProtocol(const SniRule* rule, std::string_view protocol) const;
  // Step 4; nullptr when there is none.
  const Endpoint* catchAll(const SniRule* rule) const;
  // The protocols some route serves, in preference order (routes.alpn, then sni.yaml's
  // alpn_routes, in file order): what is offered when ssl.alpn is not given.
  std::vector<std::string> servedProtocols() const;
  // The origin contexts the endpoints own (ssl.keylog_file is attached to each).
  const std::vector<ossl::UniquePtr<SSL_CTX>>& originContexts() const { return contexts_; }

 private:
  // The origin context of an endpoint that overrides the CA or the client certificate of
  // ssl.client (null when it overrides neither); errors name `path`:`line`.
  Result<SSL_CTX*> originContextFor(const ClientTlsConfig& client, const std::string& caCerts,
                                    const std::string& cert, const std::string& key,
                                    const std::string& path, int line);
  Result<Endpoint> routeEndpoint(const RouteTarget& t, const GatewayConfig& config);

  std::vector<ossl::UniquePtr<SSL_CTX>> contexts_;  // owned; endpoints point into them
  SniConfig sni_;
  std::vector<SniPolicy> policies_;  // one per sni_.rules entry
  std::optional<Endpoint> default_;
  std::vector<std::pair<std::string, Endpoint>> alpn_;
};

}  // namespace tlsgate::config
