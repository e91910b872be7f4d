// Which session ticket keys a snapshot's server contexts use (ssl.server.ticket_key): the key
// file (re-read on every reload), or random keys rotated inside the process — carried over
// from the previous snapshot when the settings did not change, so that a reload does not
// invalidate every ticket.
#pragma once

#include <memory>

#include "config/gateway_config.h"
#include "core/result.h"
#include "tls/ticket_key_redis.h"
#include "tls/ticket_key_source.h"
#include "tls/ticket_keys.h"

namespace tlsgate::config {

struct TicketKeySetup {
  std::shared_ptr<tls::TicketKeyStore> store;
  std::shared_ptr<tls::TicketKeyRotation> rotation;  // set for in-process random keys
  std::shared_ptr<tls::TicketKeyRedisSync> redisSync;  // set for keys shared through Redis
};

// `previousSetup` is the previous snapshot's (null at start). Errors name tlsgate.yaml and
// the line that names the key file.
Result<TicketKeySetup> setUpTicketKeys(const GatewayConfig& config,
                                       const TicketKeySetup* previousSetup,
                                       const GatewayConfig* previousConfig);

}  // namespace tlsgate::config
