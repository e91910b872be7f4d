// Which session ticket keys a snapshot's server contexts use (ssl.server.ticket_key), decided
// while the snapshot is built, without starting anything: the key file (re-read on every
// reload), random keys rotated inside the process, or a fleet's key ring in Redis. The
// gateway starts the rotation thread or the Redis sync when it activates the snapshot
// (app/activation.h); with the same settings as the snapshot it replaces, the store and its
// thread carry on, so that a reload invalidates no ticket.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "config/gateway_config.h"
#include "core/result.h"
#include "tls/ticket_key_redis.h"
#include "tls/ticket_keys.h"

namespace tlsgate::config {

struct TicketKeyPlan {
  enum class Source { kFile, kRotation, kRedis };
  Source source = Source::kRotation;
  std::chrono::seconds rotation{43200};          // kRotation
  std::chrono::seconds lifetime{7200};           // kRotation
  std::optional<tls::TicketRedisOptions> redis;  // kRedis
  bool carriedOver = false;  // the replaced snapshot's store and thread go on serving

  bool sameKeysAs(const TicketKeyPlan& other) const;
};

struct TicketKeySetup {
  std::shared_ptr<tls::TicketKeyStore> store;  // what the server contexts read
  TicketKeyPlan plan;
};

// `previous`: the replaced snapshot's setup (null at start). Errors name tlsgate.yaml and the
// line at fault.
Result<TicketKeySetup> planTicketKeys(const GatewayConfig& config, const TicketKeySetup* previous);

}  // namespace tlsgate::config
