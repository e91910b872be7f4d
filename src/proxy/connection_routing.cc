#include "proxy/connection_routing.h"

#include "core/log.h"
#include "hooks/hook_registry.h"
#include "proxy/destination.h"
#include "tls/session_tickets.h"

namespace tlsgate::proxy {

using tls::PolicyVerdict;

ConnectionRouting::ConnectionRouting(const RouteTable& routes, bool transparentListener,
                                     uint16_t listenerPort, uint16_t proxyProtocolPort,
                                     const net::Address& peer, const net::Address& local,
                                     stats::CounterBlock& counters)
    : routes_(routes),
      transparent_(transparentListener),
      listenerPort_(listenerPort),
      proxyProtocolPort_(proxyProtocolPort),
      peer_(peer),
      local_(local),
      counters_(counters) {}

PolicyVerdict ConnectionRouting::onClientHello(SSL* ssl, std::string_view sni) {
  if (!matched_) {  // once per connection, whatever OpenSSL re-enters
    matched_ = true;
    sni_ = std::string(sni);
    RuleMatch m = routes_.match(sni);
    rule_ = m.rule;
    captures_ = std::move(m.captures);
  }
  if (!rule_) return {};
  TG_DEBUG(log::kSsl, "%s: sni='%s' → sni.yaml line %d", peer_.toString().c_str(), sni_.c_str(),
           rule_->line);
  if (rule_->ipAllow && !rule_->ipAllow->contains(peer_)) {
    TG_DEBUG(log::kSslError, "%s: refused by sni.yaml line %d ip_allow (sni='%s')",
             peer_.toString().c_str(), rule_->line, sni_.c_str());
    return {PolicyVerdict::kDeny, SSL_AD_ACCESS_DENIED, {}};
  }
  // Per-name protocol bounds: the version is negotiated after this callback.
  if (rule_->minVersion) SSL_set_min_proto_version(ssl, tls::protocolVersion(*rule_->minVersion));
  if (rule_->maxVersion) SSL_set_max_proto_version(ssl, tls::protocolVersion(*rule_->maxVersion));
  // Per-name tickets, over the certificate's (already on the SSL): before OpenSSL reads the
  // client's ticket.
  if (rule_->ticketEnabled || rule_->ticketNumber)
    tls::applyTicketSettings(ssl, {rule_->ticketEnabled, rule_->ticketNumber});
  const auto& action = rule_->action;
  if (action && action->kind == EndpointKind::kTunnel) {
    EndpointDecision d = decide(*action);
    if (!d.refusal.empty()) {
      log::warning("%s: tunnel_route of sni.yaml line %d: %s", peer_.toString().c_str(),
                   rule_->line, d.refusal.c_str());
      return {PolicyVerdict::kDeny, SSL_AD_INTERNAL_ERROR, {}};
    }
    counters_.add(stats::Counter::kSniTunnels);
    tunnelProxyProtocol_ = d.sendProxyProtocol;
    return {PolicyVerdict::kTunnel, 0, std::move(d.destination)};
  }
  return {};
}

PolicyVerdict ConnectionRouting::onCertificateSelected(SSL* ssl, bool tunnelEntry) {
  // S11: on a transparent listener, a certificate entry with action=tunnel sends the
  // connection on to where the client was going; elsewhere the entry is served as usual.
  if (tunnelEntry && transparent_) {
    counters_.add(stats::Counter::kDestIpTunnels);
    return {PolicyVerdict::kTunnel, 0, {}};
  }
  if (rule_)
    if (const auto& verify = rule_->verify) verify->apply(ssl);
  return {};
}

EndpointDecision ConnectionRouting::decide(const Endpoint& e) const {
  EndpointDecision d;
  d.kind = e.kind;
  d.sendProxyProtocol = e.sendProxyProtocol;
  d.address = e.address;
  d.originSni = e.originSni;
  d.originContext = e.originContext;
  d.originAlpn = e.originAlpn;
  d.verification = e.verification;
  if (e.kind == EndpointKind::kInspect) return d;
  if (e.address) {
    d.destination = e.destination;
    return d;
  }
  DestinationContext ctx{&captures_, listenerPort_, proxyProtocolPort_};
  auto expanded = expandDestination(e.destination, ctx);
  if (!expanded) {
    d.refusal = expanded.error().message;
    return d;
  }
  d.destination = std::move(*expanded);
  if (auto literal = net::parseAddress(d.destination, /*requirePort=*/true)) d.address = literal;
  return d;
}

EndpointDecision ConnectionRouting::endpointFor(SSL* ssl) const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl, &p, &len);
  std::string_view protocol(reinterpret_cast<const char*>(p), len);
  if (!protocol.empty()) {
    if (const Endpoint* e = routes_.forProtocol(rule_, protocol)) return decide(*e);
    if (const hooks::EndpointEntry* plugin = hooks::HookRegistry::instance().endpoint(protocol)) {
      std::string proto(protocol);
      // The policy may not have run (no sni.yaml): the session knows the name too.
      const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      tlsgate_endpoint_info info{proto.c_str(), sni, peer_.sockaddrPtr(), local_.sockaddrPtr()};
      const char* target = plugin->fn(&info, plugin->data);
      EndpointDecision d;
      if (!target) {
        d.refusal = "the plugin endpoint of '" + proto + "' refused the connection";
        return d;
      }
      if (std::string_view(target) == "builtin:inspect") return d;
      d.kind = EndpointKind::kRelay;
      d.destination = target;
      d.address = net::parseAddress(d.destination, /*requirePort=*/true);
      return d;
    }
  }
  if (const Endpoint* e = routes_.catchAll(rule_)) return decide(*e);
  EndpointDecision d;
  // S14: a negotiated protocol nobody serves is an error, and so is no ALPN without a
  // default endpoint.
  d.refusal = protocol.empty() ? "no default endpoint (routes.default) and no ALPN"
                               : "no endpoint registered for '" + std::string(protocol) + "'";
  return d;
}

}  // namespace tlsgate::proxy
