// Snapshot: one immutable, complete configuration (S16, DESIGN principle 4).
//
// Built off the hot path from tlsgate.yaml and every file it names; published as a
// shared_ptr; pinned by each connection at accept, so a connection keeps the snapshot it
// started with whatever happens to the current one.
#pragma once

#include <memory>
#include <string>

#include <vector>

#include "acme/manager.h"
#include "config/gateway_config.h"
#include "config/ticket_key_setup.h"
#include "core/result.h"
#include "net/cidr.h"
#include "proxy/snapshot.h"
#include "tls/cert_store.h"
#include "tls/keylog.h"
#include "tls/ossl.h"
#include "tls/server_params.h"
#include "tls/ticket_key_redis.h"
#include "tls/ticket_key_source.h"

namespace tlsgate::config {

struct Snapshot {
  GatewayConfig config;
  proxy::Snapshot runtime;  // what the workers read
  // What feeds runtime.ticketKeys, started by the gateway (app/activation.h): random
  // in-process keys (ticketRotation) live on across reloads that keep their settings; keys
  // shared through Redis (ticketRedisSync).
  TicketKeyPlan ticketPlan;
  std::shared_ptr<tls::TicketKeyRotation> ticketRotation;
  std::shared_ptr<tls::TicketKeyRedisSync> ticketRedisSync;  // ssl.server.ticket_key.redis
  // The ACME client (acme:), started by the gateway and carried over by reloads that keep
  // its settings; it serves into runtime.managedCerts.
  std::shared_ptr<acme::Manager> acmeManager;
};

// The workers' view of `snapshot`: its runtime part, which keeps the whole alive.
inline std::shared_ptr<const proxy::Snapshot> runtimeOf(std::shared_ptr<const Snapshot> snapshot) {
  const proxy::Snapshot* runtime = &snapshot->runtime;
  return std::shared_ptr<const proxy::Snapshot>(std::move(snapshot), runtime);
}

// Reads ssl_multicert.config, sni.yaml and every certificate, key and CA file named by
// `config`; the first problem found is returned as file:line: message. Builds data only:
// no thread is started, no name looked up, no socket opened and no file created (what
// --check runs); the gateway activates the snapshot before it serves (app/activation.h).
// `pluginProtocols`: the protocols plugins registered endpoints for (offered when ssl.alpn
// is not given). `previous`: on a reload (S16), the snapshot in use, whose state worth
// keeping is carried over (the ticket keys); null at startup. It is only read.
Result<std::shared_ptr<Snapshot>> buildSnapshot(
    GatewayConfig config, const std::vector<std::string>& pluginProtocols = {},
    const Snapshot* previous = nullptr);
// The same from tlsgate.yaml's path.
Result<std::shared_ptr<Snapshot>> buildSnapshot(
    const std::string& yamlPath, const std::vector<std::string>& pluginProtocols = {},
    const Snapshot* previous = nullptr);

}  // namespace tlsgate::config
