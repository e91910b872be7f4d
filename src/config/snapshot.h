// Snapshot: one immutable, complete configuration (S16, DESIGN principle 4).
//
// Built off the hot path from tlsgate.yaml and every file it names; published as a
// shared_ptr; pinned by each connection at accept, so a connection keeps the snapshot it
// started with whatever happens to the current one.
#pragma once

#include <memory>
#include <string>

#include <vector>

#include "config/gateway_config.h"
#include "config/ticket_key_setup.h"
#include "core/result.h"
#include "net/cidr.h"
#include "proxy/route_table.h"
#include "tls/cert_store.h"
#include "tls/keylog.h"
#include "tls/ossl.h"
#include "tls/server_params.h"

namespace tlsgate::config {

struct Snapshot {
  GatewayConfig config;
  tls::ServerParams serverParams;
  // ssl.keylog_file (null when off); before the contexts that point to it, so it goes last.
  std::unique_ptr<tls::KeyLog> keyLog;
  std::unique_ptr<tls::CertStore> certs;
  std::unique_ptr<proxy::RouteTable> routes;
  std::vector<net::CidrSet> proxyProtocolFrom;  // per listener, as config.listeners
  ossl::UniquePtr<SSL_CTX> originContext;       // client side, towards TLS origins (S17)
  // Session ticket keys: every server context of `certs` encrypts and decrypts with this
  // store's ring. Random in-process keys (ticketRotation, which feeds ticketKeys) live on
  // across reloads that keep their settings.
  std::shared_ptr<tls::TicketKeyStore> ticketKeys;
  std::shared_ptr<tls::TicketKeyRotation> ticketRotation;
  std::shared_ptr<tls::TicketKeyRedisSync> ticketRedisSync;  // ssl.server.ticket_key.redis
};

// Reads ssl_multicert.config, sni.yaml and every certificate, key and CA file named by
// `config`; the first problem found is returned as file:line: message. `pluginProtocols`:
// the protocols plugins registered endpoints for (offered when ssl.alpn is not given).
// `previous`: on a reload (S16), the snapshot in use, whose state worth keeping is carried
// over (the in-process ticket keys); null at startup. It is only read.
Result<std::shared_ptr<const Snapshot>> buildSnapshot(
    GatewayConfig config, const std::vector<std::string>& pluginProtocols = {},
    const Snapshot* previous = nullptr);
// The same from tlsgate.yaml's path.
Result<std::shared_ptr<const Snapshot>> buildSnapshot(
    const std::string& yamlPath, const std::vector<std::string>& pluginProtocols = {},
    const Snapshot* previous = nullptr);

}  // namespace tlsgate::config
