#include "config/snapshot.h"

#include <algorithm>
#include <optional>

#include "config/multicert.h"
#include "config/route_builder.h"
#include "tls/client_handshake.h"
#include "tls/groups.h"

namespace tlsgate::config {

namespace {

tls::ServerParams serverParamsOf(const SslConfig& ssl) {
  tls::ServerParams p;
  p.minVersion = tls::protocolVersion(ssl.minVersion);
  p.maxVersion = tls::protocolVersion(ssl.maxVersion);
  if (!ssl.ciphers.empty()) p.ciphers = ssl.ciphers;
  if (!ssl.ciphersuites.empty()) p.ciphersuites = ssl.ciphersuites;
  p.groups = ssl.groups.empty() ? tls::defaultGroups().server : ssl.groups;
  p.alpnWire = tls::alpnToWire(ssl.alpn);
  p.allowClientRenegotiation = ssl.allowClientRenegotiation;
  p.handshakeTimeout = std::chrono::seconds(ssl.handshakeTimeoutSec);
  p.sessionTimeout = std::chrono::seconds(ssl.server.sessionTimeoutSec);
  p.sessionCache = ssl.server.sessionCache.enabled;
  p.sessionCacheSize = static_cast<long>(ssl.server.sessionCache.size);
  p.verifyClientMode = tls::verifyMode(ssl.verifyClient);
  if (ssl.verifyClient != VerifyClient::kNone) p.clientCaFile = ssl.verifyClientCaCerts;
  return p;
}

}  // namespace

Result<std::shared_ptr<Snapshot>> buildSnapshot(const std::string& yamlPath,
                                                const std::vector<std::string>& pluginProtocols,
                                                const Snapshot* previous) {
  auto cfg = loadGatewayConfig(yamlPath);
  if (!cfg) return cfg.error();
  return buildSnapshot(std::move(cfg.value()), pluginProtocols, previous);
}

Result<std::shared_ptr<Snapshot>> buildSnapshot(GatewayConfig config,
                                                const std::vector<std::string>& pluginProtocols,
                                                const Snapshot* previous) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->config = std::move(config);
  const std::string& yamlPath = snapshot->config.path;
  snapshot->runtime.serverParams = serverParamsOf(snapshot->config.ssl);
  // Debugging aids (S21, the key log): the snapshot owns what its contexts point to.
  if (snapshot->config.ssl.wireTrace)
    snapshot->runtime.serverParams.wireTrace = &*snapshot->config.ssl.wireTrace;
  if (!snapshot->config.ssl.keylogFile.empty()) {
    // Opened when the gateway starts using this snapshot (app/activation.h).
    snapshot->runtime.keyLog = std::make_unique<tls::KeyLog>(snapshot->config.ssl.keylogFile);
    if (auto st = snapshot->runtime.keyLog->check(); !st)
      return Error{yamlPath, snapshot->config.ssl.keylogLine,
                   "ssl.keylog_file: " + st.error().message};
    snapshot->runtime.serverParams.keyLog = snapshot->runtime.keyLog.get();
  }

  auto routes = buildRouteTable(snapshot->config);
  if (!routes) return routes.error();
  snapshot->runtime.routes = std::move(routes.value());
  // S14: without ssl.alpn, offer what the routes serve, in their order.
  if (!snapshot->config.ssl.alpnGiven) {
    std::vector<std::string> offer = snapshot->runtime.routes->servedProtocols();
    for (const auto& p : pluginProtocols)
      if (std::find(offer.begin(), offer.end(), p) == offer.end()) offer.push_back(p);
    if (offer.empty()) offer = snapshot->config.ssl.alpn;  // the historical http/1.1
    snapshot->runtime.serverParams.alpnWire = tls::alpnToWire(offer);
  }

  for (const ListenerConfig& l : snapshot->config.listeners) {
    proxy::ListenerSettings settings{l.address, l.transparent, l.passthrough, l.proxyProtocol, {}};
    for (const auto& text : l.proxyProtocolFrom)
      if (auto st = settings.proxyProtocolFrom.add(text); !st)
        return Error{yamlPath, l.proxyProtocolFromLine,
                     "listener.proxy_protocol_from: " + st.error().message};
    snapshot->runtime.listeners.push_back(std::move(settings));
  }
  const ClientTlsConfig& clientTls = snapshot->config.ssl.client;
  snapshot->runtime.origin = {std::chrono::seconds(clientTls.handshakeTimeoutSec),
                              clientTls.sessionCache > 0, clientTls.alpn};
  snapshot->runtime.tunnelIdleTimeout =
      std::chrono::seconds(snapshot->config.tunnel.inactivityTimeoutSec);

  const ClientTlsConfig& client = snapshot->config.ssl.client;
  auto origin = tls::newOriginContext(
      {client.caCerts, client.verifyDepth, client.cert, client.key, client.groups});
  if (!origin) return Error{yamlPath, client.line, origin.error().message};
  snapshot->runtime.originContext = std::move(origin.value());
  if (snapshot->runtime.keyLog) {  // the server contexts have it from serverParams
    snapshot->runtime.keyLog->attach(snapshot->runtime.originContext.get());
    for (const auto& ctx : snapshot->runtime.routes->originContexts)
      snapshot->runtime.keyLog->attach(ctx.get());
  }

  std::optional<TicketKeySetup> before;
  if (previous) before = TicketKeySetup{previous->runtime.ticketKeys, previous->ticketPlan};
  auto ticketKeys = planTicketKeys(snapshot->config, before ? &*before : nullptr);
  if (!ticketKeys) return ticketKeys.error();
  snapshot->runtime.ticketKeys = std::move(ticketKeys->store);
  snapshot->ticketPlan = std::move(ticketKeys->plan);
  snapshot->runtime.serverParams.ticketKeys = snapshot->runtime.ticketKeys.get();

  const std::string& multicertPath = snapshot->config.ssl.multicertPath;
  auto entries = loadMulticert(multicertPath);
  if (!entries) return entries.error();
  auto store = tls::CertStore::build(*entries, multicertPath, snapshot->runtime.serverParams);
  if (!store) {
    Error e = store.error();
    // A bad cipher/group setting is about tlsgate.yaml, not about a certificate line.
    if (e.file.empty()) e = Error{yamlPath, snapshot->config.ssl.multicertLine, e.message};
    return e;
  }
  snapshot->runtime.certs = std::move(store.value());
  return snapshot;
}

}  // namespace tlsgate::config
