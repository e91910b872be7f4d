#include "config/snapshot.h"

#include <algorithm>
#include <optional>

#include "config/multicert.h"
#include "config/route_builder.h"
#include "tls/cert_directory_files.h"
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

namespace {

// S14: without ssl.alpn, offer what the routes serve, in their order.
std::string alpnOffer(const Snapshot& s, const std::vector<std::string>& pluginProtocols) {
  std::vector<std::string> offer = s.runtime.routes->servedProtocols();
  for (const auto& p : pluginProtocols)
    if (std::find(offer.begin(), offer.end(), p) == offer.end()) offer.push_back(p);
  if (offer.empty()) offer = s.config.ssl.alpn;  // the historical http/1.1
  return tls::alpnToWire(offer);
}

// The debugging aids (S21, the key log): the snapshot owns what its contexts point to.
Status debuggingAids(Snapshot& s) {
  if (s.config.ssl.wireTrace) s.runtime.serverParams.wireTrace = &*s.config.ssl.wireTrace;
  if (s.config.ssl.keylogFile.empty()) return Ok{};
  // Opened when the gateway starts using this snapshot (app/activation.h).
  s.runtime.keyLog = std::make_unique<tls::KeyLog>(s.config.ssl.keylogFile);
  if (auto st = s.runtime.keyLog->check(); !st)
    return Error{s.config.path, s.config.ssl.keylogLine, "ssl.keylog_file: " + st.error().message};
  s.runtime.serverParams.keyLog = s.runtime.keyLog.get();
  return Ok{};
}

// Listeners, origin settings and the data phases' timeouts, as the workers read them.
Status runtimeSettings(Snapshot& s) {
  for (const ListenerConfig& l : s.config.listeners) {
    proxy::ListenerSettings settings{l.address, l.transparent,   l.passthrough, l.proxyProtocol,
                                     {},        l.maxConnections};
    for (const auto& text : l.proxyProtocolFrom)
      if (auto st = settings.proxyProtocolFrom.add(text); !st)
        return Error{s.config.path, l.proxyProtocolFromLine,
                     "listener.proxy_protocol_from: " + st.error().message};
    s.runtime.listeners.push_back(std::move(settings));
  }
  const ClientTlsConfig& client = s.config.ssl.client;
  s.runtime.origin = {std::chrono::seconds(client.handshakeTimeoutSec), client.sessionCache > 0,
                      client.alpn};
  s.runtime.tunnelIdleTimeout = std::chrono::seconds(s.config.tunnel.inactivityTimeoutSec);
  s.runtime.relayIdleTimeout = std::chrono::seconds(s.config.relay.inactivityTimeoutSec);
  s.runtime.inspectTimeout = std::chrono::seconds(s.config.inspect.requestTimeoutSec);
  s.runtime.connectTimeout = std::chrono::seconds(s.config.connectTimeoutSec);
  s.runtime.admission = s.config.admission;
  auto origin = tls::newOriginContext(
      {client.caCerts, client.verifyDepth, client.cert, client.key, client.groups});
  if (!origin) return Error{s.config.path, client.line, origin.error().message};
  s.runtime.originContext = std::move(origin.value());
  if (s.runtime.keyLog) {  // the server contexts have it from serverParams
    s.runtime.keyLog->attach(s.runtime.originContext.get());
    for (const auto& ctx : s.runtime.routes->originContexts) s.runtime.keyLog->attach(ctx.get());
  }
  return Ok{};
}

Status ticketKeys(Snapshot& s, const Snapshot* previous) {
  std::optional<TicketKeySetup> before;
  if (previous) before = TicketKeySetup{previous->runtime.ticketKeys, previous->ticketPlan};
  auto setup = planTicketKeys(s.config, before ? &*before : nullptr);
  if (!setup) return setup.error();
  s.runtime.ticketKeys = std::move(setup->store);
  s.ticketPlan = std::move(setup->plan);
  s.runtime.serverParams.ticketKeys = s.runtime.ticketKeys.get();
  return Ok{};
}

// D5: with no certificate, every handshake fails (internal_error). Fine only when something
// else can serve: a plugin (which may hand certificates in at the CERT hook) or an sni.yaml
// tunnel_route (TLS not terminated), or the ACME client. docs/decisions.md, "A configuration that
// serves nothing".
bool somethingElseServes(const Snapshot& s) {
  if (!s.config.plugins.empty() || s.config.acme || s.config.ssl.certDirectory) return true;
  return std::any_of(s.runtime.routes->rules.begin(), s.runtime.routes->rules.end(),
                     [](const proxy::NameRule& rule) {
                       return rule.action && rule.action->kind == proxy::EndpointKind::kTunnel;
                     });
}

// ssl.cert_directory: the previous snapshot's directory when nothing it depends on changed
// (its cache survives the reload), else a new one. Its loader is started by activation.
Status certDirectory(Snapshot& s, const Snapshot* previous) {
  const std::optional<CertDirectoryConfig>& c = s.config.ssl.certDirectory;
  if (!c) return Ok{};
  if (std::string problem = tls::directoryProblem(c->path); !problem.empty())
    return Error{s.config.path, c->pathLine, "ssl.cert_directory.path: " + problem};
  tls::CertDirectorySettings settings{c->path, c->cacheSize,
                                      std::chrono::seconds(c->negativeTtlSec),
                                      std::chrono::seconds(c->timeoutSec)};
  std::shared_ptr<tls::CertDirectory> before = previous ? previous->runtime.certDirectory : nullptr;
  if (before && before->sameSetup(settings, s.runtime.serverParams))
    s.runtime.certDirectory = before;
  else
    s.runtime.certDirectory =
        std::make_shared<tls::CertDirectory>(std::move(settings), s.runtime.serverParams);
  return Ok{};
}

Status certificates(Snapshot& s, const Snapshot* previous) {
  const std::string& multicertPath = s.config.ssl.multicertPath;
  auto entries = loadMulticert(multicertPath);
  if (!entries) return entries.error();
  if (entries->empty() && !somethingElseServes(s))
    return Error{multicertPath, 0,
                 "no certificate: every TLS handshake would fail (add a line "
                 "ssl_cert_name=... ssl_key_name=...)"};
  tls::CertStoreOptions options;
  options.partial = s.config.ssl.multicertPartialReload;
  // Unchanged certificates are shared with the snapshot in use, not read again (issue 19).
  if (previous) options.previous = previous->runtime.certs.get();
  auto store = tls::CertStore::build(*entries, multicertPath, s.runtime.serverParams, options);
  if (!store) {
    Error e = store.error();
    // A bad cipher/group setting is about tlsgate.yaml, not about a certificate line.
    if (e.file.empty()) e = Error{s.config.path, s.config.ssl.multicertLine, e.message};
    return e;
  }
  s.runtime.certs = std::move(store.value());
  // The ACME client's certificates are served with the same settings (filled when the
  // gateway activates the snapshot: building reads no state and orders nothing).
  if (s.config.acme)
    s.runtime.managedCerts = std::make_shared<tls::ManagedCertStore>(s.runtime.serverParams);
  return Ok{};
}

}  // namespace

Result<std::shared_ptr<Snapshot>> buildSnapshot(GatewayConfig config,
                                                const std::vector<std::string>& pluginProtocols,
                                                const Snapshot* previous) {
  auto snapshot = std::make_shared<Snapshot>();
  Snapshot& s = *snapshot;
  s.config = std::move(config);
  s.runtime.serverParams = serverParamsOf(s.config.ssl);
  if (auto st = debuggingAids(s); !st) return st.error();
  auto routes = buildRouteTable(s.config);
  if (!routes) return routes.error();
  s.runtime.routes = std::move(routes.value());
  if (!s.config.ssl.alpnGiven) s.runtime.serverParams.alpnWire = alpnOffer(s, pluginProtocols);
  if (auto st = runtimeSettings(s); !st) return st.error();
  if (auto st = ticketKeys(s, previous); !st) return st.error();
  if (auto st = certificates(s, previous); !st) return st.error();
  if (auto st = certDirectory(s, previous); !st) return st.error();
  return snapshot;
}

}  // namespace tlsgate::config
