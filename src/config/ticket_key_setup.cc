#include "config/ticket_key_setup.h"

#include "config/ticket_redis_config.h"
#include "tls/ticket_key_source.h"

namespace tlsgate::config {

bool TicketKeyPlan::sameKeysAs(const TicketKeyPlan& other) const {
  if (source != other.source) return false;
  switch (source) {
    case Source::kFile:
      return false;  // the file is read again: its keys may have changed
    case Source::kRotation:
      return rotation == other.rotation && lifetime == other.lifetime;
    case Source::kRedis:
      return redis == other.redis;
  }
  return false;
}

Result<TicketKeySetup> planTicketKeys(const GatewayConfig& config, const TicketKeySetup* previous) {
  const ServerTlsConfig& server = config.ssl.server;
  const TicketKeyConfig& tk = server.ticketKey;
  TicketKeySetup setup;
  if (!tk.filename.empty()) {
    auto ring = tls::loadTicketKeyFile(tk.filename);
    if (!ring)
      return Error{config.path, tk.filenameLine,
                   "ssl.server.ticket_key.filename: " + ring.error().message};
    setup.plan.source = TicketKeyPlan::Source::kFile;
    setup.store = std::make_shared<tls::TicketKeyStore>(std::move(ring.value()));
    return setup;
  }
  if (tk.redis) {
    auto options = ticketRedisOptions(config);
    if (!options) return options.error();
    setup.plan.source = TicketKeyPlan::Source::kRedis;
    setup.plan.redis = std::move(options.value());
  } else {
    setup.plan.source = TicketKeyPlan::Source::kRotation;
    setup.plan.rotation = std::chrono::seconds(tk.rotationSec);
    setup.plan.lifetime = std::chrono::seconds(server.sessionTimeoutSec);
  }
  if (previous && previous->plan.sameKeysAs(setup.plan)) {
    setup.store = previous->store;  // tickets issued before the reload still resume
    setup.plan.carriedOver = true;
    return setup;
  }
  // Until its thread publishes a ring, the store serves one random key of its own.
  auto ring = std::make_shared<tls::TicketKeyRing>();
  ring->keys.push_back(tls::randomTicketKey());
  setup.store = std::make_shared<tls::TicketKeyStore>(std::move(ring));
  return setup;
}

}  // namespace tlsgate::config
