// Snapshot: one immutable, complete configuration (S16, DESIGN principle 4).
//
// Built off the hot path from tlsgate.yaml and every file it names; published as a
// shared_ptr; pinned by each connection at accept, so a connection keeps the snapshot it
// started with whatever happens to the current one.
#pragma once

#include <memory>
#include <string>

#include "config/gateway_config.h"
#include "core/result.h"
#include "tls/cert_store.h"
#include "tls/server_params.h"

namespace tlsgate::config {

struct Snapshot {
  GatewayConfig config;
  tls::ServerParams serverParams;
  std::unique_ptr<tls::CertStore> certs;
};

// Reads tlsgate.yaml, ssl_multicert.config and every certificate and key; the first problem
// found is returned as file:line: message.
Result<std::shared_ptr<const Snapshot>> buildSnapshot(const std::string& yamlPath);

}  // namespace tlsgate::config
