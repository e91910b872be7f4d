// RouteTable: where connections go, as plain data built once per snapshot (by config/) from
// tlsgate.yaml's routes and sni.yaml (S14 and the per-name actions of sni.yaml).
//
// An endpoint is decided in this order:
//   1. sni.yaml, first matching item: tunnel_route (decided at the ClientHello, before any
//      certificate work), then after the handshake its alpn_routes for the negotiated
//      protocol;
//   2. tlsgate.yaml routes.alpn for the negotiated protocol;
//   3. an endpoint a plugin registered for the protocol;
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

#include "core/result.h"
#include "net/address.h"
#include "net/cidr.h"
#include "proxy/name_index.h"
#include "tls/client_handshake.h"
#include "tls/client_verification.h"
#include "tls/ossl.h"
#include "tls/tls_settings.h"

namespace tlsgate::proxy {

enum class EndpointKind : uint8_t {
  kInspect,    // builtin:inspect
  kRelay,      // plaintext to an upstream (routes.*, forward_route, alpn_routes)
  kOriginTls,  // re-encrypted to an origin (partial_blind_route)
  kTunnel,     // blind tunnel, TLS never terminated (tunnel_route)
};

struct Endpoint {
  EndpointKind kind = EndpointKind::kInspect;
  std::string destination;              // "host:port" as written (may hold $1, {...})
  std::optional<net::Address> address;  // a literal, or once resolved (see resolveNames)
  int sendProxyProtocol = 0;            // 0, 1 or 2
  std::string file;                     // where it is written, for messages
  int line = 0;
  // kOriginTls (S17-S19):
  std::optional<std::string> originSni;  // absent: the client's SNI; "": none
  SSL_CTX* originContext = nullptr;      // its own CA / client certificate; null: the snapshot's
  std::optional<std::vector<std::string>> originAlpn;  // absent: ssl.client.alpn
  tls::OriginVerification verification;
};

// One sni.yaml item as connections use it.
struct NameRule {
  int line = 0;      // in sni.yaml
  std::string fqdn;  // lowercase pattern (proxy/name_index.h)
  std::optional<net::CidrSet> ipAllow;
  std::optional<tls::TlsVersion> minVersion;
  std::optional<tls::TlsVersion> maxVersion;
  std::optional<bool> ticketEnabled;
  std::optional<int> ticketNumber;
  std::optional<Endpoint> action;                      // tunnel / forward / partial blind
  std::vector<std::pair<std::string, Endpoint>> alpn;  // alpn_routes
  std::unique_ptr<tls::ClientVerification> verify;     // verify_client, when given
};

struct RuleMatch {
  const NameRule* rule = nullptr;     // null: no item applies
  std::vector<std::string> captures;  // $1 is captures[0]
};

class RouteTable {
 public:
  std::optional<Endpoint> defaultEndpoint;             // routes.default
  std::vector<std::pair<std::string, Endpoint>> alpn;  // routes.alpn, file order
  std::vector<NameRule> rules;                         // sni.yaml items, file order
  std::string rulesPath;                               // sni.yaml, for messages
  // The origin contexts the endpoints own (ssl.keylog_file is attached to each).
  std::vector<ossl::UniquePtr<SSL_CTX>> originContexts;

  // Builds the name index over `rules`: call once they are all in.
  void indexRules();
  RuleMatch match(std::string_view sni) const;

  // Steps 1 (alpn_routes) and 2 of the order above; nullptr when neither names `protocol`.
  const Endpoint* forProtocol(const NameRule* rule, std::string_view protocol) const;
  // Step 4; nullptr when there is none.
  const Endpoint* catchAll(const NameRule* rule) const;
  // The protocols some route serves, in preference order (routes.alpn, then sni.yaml's
  // alpn_routes, in file order): what is offered when ssl.alpn is not given.
  std::vector<std::string> servedProtocols() const;

  // Looks up every destination written as a fixed host name (those with $N or {port}
  // tokens are looked up per connection), once: when the gateway starts or reloads, never
  // while the configuration is only checked. Errors name the file and line.
  Status resolveNames();

 private:
  NameIndex index_;
};

}  // namespace tlsgate::proxy
