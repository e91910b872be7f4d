#include "config/routing.h"

#include <algorithm>

#include "core/log.h"

namespace tlsgate::config {

namespace {

// An endpoint from a target written in tlsgate.yaml (already resolved by the parser); its
// origin context, if it needs its own, comes later.
Endpoint fromRouteTarget(const RouteTarget& t, int sendProxy, const std::string& source,
                         const ClientTlsConfig& client) {
  Endpoint e;
  e.kind = t.inspect ? EndpointKind::kInspect
           : t.tls   ? EndpointKind::kOriginTls
                     : EndpointKind::kRelay;
  e.destination = t.upstreamText;
  if (!t.inspect) e.address = t.upstream;
  e.sendProxyProtocol = sendProxy;
  e.source = source;
  e.originSni = t.originSni;
  e.originAlpn = t.originAlpn;
  e.verification = {client.policy, client.properties};
  return e;
}

// A destination from sni.yaml: resolved now unless it holds an expansion token.
Result<Endpoint> fromSniTarget(EndpointKind kind, const std::string& text, int sendProxy,
                               const std::string& path, int line) {
  Endpoint e;
  e.source = path + ":" + std::to_string(line);
  e.sendProxyProtocol = sendProxy;
  if (text == "builtin:inspect") return e;  // kInspect (alpn_routes only)
  e.kind = kind;
  e.destination = text;
  if (text.find('$') == std::string::npos && text.find('{') == std::string::npos) {
    auto address = net::resolveHostPort(text);
    if (!address) return Error{path, line, address.error().message};
    e.address = *address;
  }
  return e;
}

EndpointKind kindOf(SniAction a) {
  switch (a) {
    case SniAction::kTunnel:
      return EndpointKind::kTunnel;
    case SniAction::kPartialBlind:
      return EndpointKind::kOriginTls;
    default:
      return EndpointKind::kRelay;
  }
}

}  // namespace

Result<SSL_CTX*> Routing::originContextFor(const ClientTlsConfig& client,
                                           const std::string& caCerts, const std::string& cert,
                                           const std::string& key, const std::string& path,
                                           int line) {
  if (caCerts.empty() && cert.empty()) return nullptr;  // the snapshot's context serves
  // S17: another CA set or client certificate for this origin: a context of its own.
  auto ctx = tls::newOriginContext({caCerts.empty() ? client.caCerts : caCerts, client.verifyDepth,
                                    cert.empty() ? client.cert : cert,
                                    cert.empty() ? client.key : key, client.groups});
  if (!ctx) return Error{path, line, ctx.error().message};
  contexts_.push_back(std::move(ctx.value()));
  return contexts_.back().get();
}

Result<Endpoint> Routing::routeEndpoint(const RouteTarget& t, const GatewayConfig& config) {
  Endpoint e = fromRouteTarget(t, config.routes.sendProxyProtocol,
                               config.path + ":" + std::to_string(t.line), config.ssl.client);
  auto ctx = originContextFor(config.ssl.client, t.caCerts, t.clientCert, t.clientKey, config.path,
                              t.line);
  if (!ctx) return ctx.error();
  e.originContext = *ctx;
  return e;
}

Result<std::unique_ptr<Routing>> Routing::build(const GatewayConfig& config) {
  auto routing = std::make_unique<Routing>();
  const ClientTlsConfig& client = config.ssl.client;
  if (config.routes.defaultRoute) {
    auto e = routing->routeEndpoint(*config.routes.defaultRoute, config);
    if (!e) return e.error();
    routing->default_ = std::move(e.value());
  }
  for (const auto& [protocol, target] : config.routes.alpn) {
    auto e = routing->routeEndpoint(target, config);
    if (!e) return e.error();
    routing->alpn_.emplace_back(protocol, std::move(e.value()));
  }

  if (!config.sniPath.empty()) {
    auto sni = loadSniConfig(config.sniPath);
    if (!sni) return sni.error();
    routing->sni_ = std::move(sni.value());
    // Items an earlier one always shadows: legal, but almost certainly not what was meant.
    for (const Error& w : routing->sni_.warnings) log::warning("%s", w.toString().c_str());
  }
  const std::string& path = routing->sni_.path;
  for (const SniRule& rule : routing->sni_.rules) {
    SniPolicy policy;
    if (rule.action != SniAction::kNone) {
      auto e = fromSniTarget(kindOf(rule.action), rule.destination, rule.sendProxyProtocol, path,
                             rule.line);
      if (!e) return e.error();
      auto ctx = routing->originContextFor(client, rule.originCaCerts, rule.clientCert,
                                           rule.clientKey, path, rule.line);
      if (!ctx) return ctx.error();
      e->originContext = *ctx;
      e->originSni = rule.originSni;
      e->originAlpn = rule.originAlpn;
      e->verification = {rule.verifyServerPolicy.value_or(client.policy),
                         rule.verifyServerProperties.value_or(client.properties)};
      policy.action = std::move(e.value());
    }
    for (const auto& [protocol, target] : rule.alpnRoutes) {
      auto e = fromSniTarget(EndpointKind::kRelay, target, rule.sendProxyProtocol, path, rule.line);
      if (!e) return e.error();
      policy.alpn.emplace_back(protocol, std::move(e.value()));
    }
    if (rule.verifyClient) {
      auto v =
          tls::ClientVerification::load(verifyMode(*rule.verifyClient), rule.verifyClientCaCerts);
      if (!v) return Error{path, rule.line, v.error().message};
      policy.verify = std::move(v.value());
    }
    routing->policies_.push_back(std::move(policy));
  }
  return routing;
}

const Endpoint* Routing::forProtocol(const SniRule* rule, std::string_view protocol) const {
  if (rule) {
    for (const auto& [p, e] : policy(*rule).alpn)
      if (p == protocol) return &e;
  }
  for (const auto& [p, e] : alpn_)
    if (p == protocol) return &e;
  return nullptr;
}

const Endpoint* Routing::catchAll(const SniRule* rule) const {
  if (rule) {
    const auto& action = policy(*rule).action;
    if (action && action->kind != EndpointKind::kTunnel) return &*action;
  }
  return default_ ? &*default_ : nullptr;
}

std::vector<std::string> Routing::servedProtocols() const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& p) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  };
  for (const auto& [p, e] : alpn_) add(p);
  for (const auto& policy : policies_)
    for (const auto& [p, e] : policy.alpn) add(p);
  return out;
}

}  // namespace tlsgate::config
