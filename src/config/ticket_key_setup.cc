#include "config/ticket_key_setup.h"

#include <chrono>

#include "config/ticket_redis_config.h"

namespace tlsgate::config {

namespace {

bool sameRandomKeys(const ServerTlsConfig& a, const ServerTlsConfig& b) {
  return a.ticketKey.filename.empty() && b.ticketKey.filename.empty() && !a.ticketKey.redis &&
         !b.ticketKey.redis && a.ticketKey.rotationSec == b.ticketKey.rotationSec &&
         a.sessionTimeoutSec == b.sessionTimeoutSec;
}

}  // namespace

Result<TicketKeySetup> setUpTicketKeys(const GatewayConfig& config,
                                       const TicketKeySetup* previousSetup,
                                       const GatewayConfig* previousConfig) {
  const ServerTlsConfig& server = config.ssl.server;
  const TicketKeyConfig& tk = server.ticketKey;
  TicketKeySetup setup;
  if (!tk.filename.empty()) {
    auto ring = tls::loadTicketKeyFile(tk.filename);
    if (!ring)
      return Error{config.path, tk.filenameLine,
                   "ssl.server.ticket_key.filename: " + ring.error().message};
    setup.store = std::make_shared<tls::TicketKeyStore>(std::move(ring.value()));
    return setup;
  }
  if (tk.redis) {
    // The Redis key ring (a fleet's shared keys) publishes into a store of its own.
    auto sync = startTicketRedisSync(config, previousSetup ? previousSetup->redisSync : nullptr,
                                     previousConfig);
    if (!sync) return sync.error();
    setup.store = (*sync)->store();
    setup.redisSync = std::move(*sync);
    return setup;
  }
  if (previousSetup && previousSetup->rotation && previousConfig &&
      sameRandomKeys(server, previousConfig->ssl.server))
    return *previousSetup;  // the same keys: tickets issued before the reload still resume
  setup.rotation = std::make_shared<tls::TicketKeyRotation>(
      std::chrono::seconds(tk.rotationSec), std::chrono::seconds(server.sessionTimeoutSec));
  setup.store = setup.rotation->store();
  return setup;
}

}  // namespace tlsgate::config
