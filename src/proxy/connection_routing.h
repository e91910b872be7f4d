// ConnectionRouting: one connection's side of the routing — sni.yaml's per-name actions,
// the listener's transparency, and the endpoint chosen when the handshake is done (S14).
//
// The handshake driver asks it at the ClientHello (before any certificate work: ip_allow,
// protocol bounds, tunnel_route) and after the certificate selection (verify_client, and
// S11's action=tunnel); the connection asks it where to go once the handshake is done.
// The sni.yaml item is matched once per connection, so a callback that OpenSSL re-enters
// finds the decision already made.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/address.h"
#include "proxy/route_table.h"
#include "stats/counters.h"
#include "tls/handshake_policy.h"

namespace tlsgate::proxy {

// Where a connection goes after the handshake.
struct EndpointDecision {
  EndpointKind kind = EndpointKind::kInspect;
  std::string destination;              // "host:port" after expansion (relay, origin)
  std::optional<net::Address> address;  // known already (else: resolve `destination`)
  int sendProxyProtocol = 0;
  // kOriginTls: from the endpoint (see Endpoint).
  std::optional<std::string> originSni;
  SSL_CTX* originContext = nullptr;
  std::optional<std::vector<std::string>> originAlpn;
  tls::OriginVerification verification;
  std::string refusal;  // non-empty: no endpoint (S14) or a plugin refused; the reason
};

class ConnectionRouting final : public tls::HandshakePolicy {
 public:
  // `listenerPort`: the port the connection arrived on ({inbound_local_port}); `peer` and
  // `local` are the addresses after any PROXY header (whose destination port is
  // {proxy_protocol_port}, 0 without one).
  ConnectionRouting(const RouteTable& routes, bool transparentListener, uint16_t listenerPort,
                    uint16_t proxyProtocolPort, const net::Address& peer, const net::Address& local,
                    stats::CounterBlock& counters);

  tls::PolicyVerdict onClientHello(SSL* ssl, std::string_view sni) override;
  tls::PolicyVerdict onCertificateSelected(SSL* ssl, bool tunnelEntry) override;

  // S14: the endpoint for the negotiated protocol (none: the default endpoint).
  EndpointDecision endpointFor(SSL* ssl) const;

  const NameRule* rule() const { return rule_; }
  const std::string& sni() const { return sni_; }
  // The PROXY version a tunnel_route sends (0: none).
  int tunnelSendsProxyProtocol() const { return tunnelProxyProtocol_; }

 private:
  // Fills the destination of `e` for this connection ($1, {inbound_local_port}, ...).
  EndpointDecision decide(const Endpoint& e) const;

  const RouteTable& routes_;
  bool transparent_;
  uint16_t listenerPort_;
  uint16_t proxyProtocolPort_;
  const net::Address& peer_;
  const net::Address& local_;
  stats::CounterBlock& counters_;
  int tunnelProxyProtocol_ = 0;
  bool matched_ = false;
  const NameRule* rule_ = nullptr;
  std::vector<std::string> captures_;
  std::string sni_;
};

}  // namespace tlsgate::proxy
