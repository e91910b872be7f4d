// Builds the route table (proxy/route_table.h) of a snapshot from tlsgate.yaml's routes and
// sni.yaml: resolves every fixed destination, loads every per-name CA file and makes the
// origin contexts that need their own CA or client certificate. Errors name the file and
// line.
#pragma once

#include <memory>

#include "config/gateway_config.h"
#include "core/result.h"
#include "proxy/route_table.h"

namespace tlsgate::config {

Result<std::unique_ptr<proxy::RouteTable>> buildRouteTable(const GatewayConfig& config);

}  // namespace tlsgate::config
