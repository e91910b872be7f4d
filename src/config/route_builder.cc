#include "config/route_builder.h"

#include "config/sni_config.h"
#include "proxy/destination.h"

#include <algorithm>

#include "core/log.h"

namespace tlsgate::config {

namespace {

using proxy::Endpoint;
using proxy::EndpointKind;
using proxy::NameRule;
using proxy::RouteTable;

// An endpoint from a target written in tlsgate.yaml (a literal address is known already); its
// origin context, if it needs its own, comes later.
Endpoint fromRouteTarget(const RouteTarget& t, int sendProxy, const std::string& file,
                         const ClientTlsConfig& client) {
  Endpoint e;
  e.kind = t.inspect ? EndpointKind::kInspect
           : t.tls   ? EndpointKind::kOriginTls
                     : EndpointKind::kRelay;
  e.destination = t.upstreamText;
  if (!t.inspect && t.upstream.isSet()) e.address = t.upstream;
  e.sendProxyProtocol = sendProxy;
  e.file = file;
  e.line = t.line;
  e.originSni = t.originSni;
  e.originAlpn = t.originAlpn;
  e.verification = {client.policy, client.properties};
  return e;
}

// A destination from sni.yaml (a host name is resolved when the gateway starts; one with
// $N or {port} tokens, per connection).
Result<Endpoint> fromSniTarget(EndpointKind kind, const std::string& text, int sendProxy,
                               const std::string& path, int line) {
  Endpoint e;
  e.file = path;
  e.line = line;
  e.sendProxyProtocol = sendProxy;
  if (text == "builtin:inspect") return e;  // kInspect (alpn_routes only)
  e.kind = kind;
  e.destination = text;
  if (!proxy::hasTokens(text)) {
    if (auto st = net::checkHostPort(text); !st) return Error{path, line, st.error().message};
    if (auto literal = net::parseAddress(text, /*requirePort=*/true)) e.address = *literal;
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

Result<SSL_CTX*> originContextFor(RouteTable& table, const ClientTlsConfig& client,
                                  const std::string& caCerts, const std::string& cert,
                                  const std::string& key, const std::string& path, int line) {
  if (caCerts.empty() && cert.empty()) return nullptr;  // the snapshot's context serves
  // S17: another CA set or client certificate for this origin: a context of its own.
  auto ctx = tls::newOriginContext({caCerts.empty() ? client.caCerts : caCerts, client.verifyDepth,
                                    cert.empty() ? client.cert : cert,
                                    cert.empty() ? client.key : key, client.groups});
  if (!ctx) return Error{path, line, ctx.error().message};
  table.originContexts.push_back(std::move(ctx.value()));
  return table.originContexts.back().get();
}

Result<Endpoint> routeEndpoint(RouteTable& table, const RouteTarget& t,
                               const GatewayConfig& config) {
  Endpoint e = fromRouteTarget(t, config.routes.sendProxyProtocol, config.path, config.ssl.client);
  auto ctx = originContextFor(table, config.ssl.client, t.caCerts, t.clientCert, t.clientKey,
                              config.path, t.line);
  if (!ctx) return ctx.error();
  e.originContext = *ctx;
  return e;
}

// One sni.yaml item as connections use it.
Result<NameRule> nameRule(RouteTable& table, const SniRule& rule, const std::string& path,
                          const ClientTlsConfig& client) {
  NameRule r;
  r.line = rule.line;
  r.fqdn = rule.fqdn;
  r.ipAllow = rule.ipAllow;
  r.minVersion = rule.minVersion;
  r.maxVersion = rule.maxVersion;
  r.ticketEnabled = rule.ticketEnabled;
  r.ticketNumber = rule.ticketNumber;
  if (rule.action != SniAction::kNone) {
    auto e = fromSniTarget(kindOf(rule.action), rule.destination, rule.sendProxyProtocol, path,
                           rule.line);
    if (!e) return e.error();
    auto ctx = originContextFor(table, client, rule.originCaCerts, rule.clientCert, rule.clientKey,
                                path, rule.line);
    if (!ctx) return ctx.error();
    e->originContext = *ctx;
    e->originSni = rule.originSni;
    e->originAlpn = rule.originAlpn;
    e->verification = {rule.verifyServerPolicy.value_or(client.policy),
                       rule.verifyServerProperties.value_or(client.properties)};
    r.action = std::move(e.value());
  }
  for (const auto& [protocol, target] : rule.alpnRoutes) {
    auto e = fromSniTarget(EndpointKind::kRelay, target, rule.sendProxyProtocol, path, rule.line);
    if (!e) return e.error();
    r.alpn.emplace_back(protocol, std::move(e.value()));
  }
  if (rule.verifyClient) {
    auto v = tls::ClientVerification::load(tls::verifyMode(*rule.verifyClient),
                                           rule.verifyClientCaCerts);
    if (!v) return Error{path, rule.line, v.error().message};
    r.verify = std::move(v.value());
  }
  return r;
}

}  // namespace

Result<std::unique_ptr<RouteTable>> buildRouteTable(const GatewayConfig& config) {
  auto table = std::make_unique<RouteTable>();
  if (config.routes.defaultRoute) {
    auto e = routeEndpoint(*table, *config.routes.defaultRoute, config);
    if (!e) return e.error();
    table->defaultEndpoint = std::move(e.value());
  }
  for (const auto& [protocol, target] : config.routes.alpn) {
    auto e = routeEndpoint(*table, target, config);
    if (!e) return e.error();
    table->alpn.emplace_back(protocol, std::move(e.value()));
  }
  if (config.sniPath.empty()) return table;
  auto sni = loadSniConfig(config.sniPath);
  if (!sni) return sni.error();
  // Items an earlier one always shadows: legal, but almost certainly not what was meant.
  for (const Error& w : sni->warnings) log::warning("%s", w.toString().c_str());
  table->rulesPath = sni->path;
  for (const SniRule& rule : sni->rules) {
    auto r = nameRule(*table, rule, sni->path, config.ssl.client);
    if (!r) return r.error();
    table->rules.push_back(std::move(r.value()));
  }
  table->indexRules();
  return table;
}

}  // namespace tlsgate::config
