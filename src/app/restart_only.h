// What a reload cannot change (S16): settings read once, when the process starts.
#pragma once

#include <string>
#include <vector>

#include "config/gateway_config.h"

namespace tlsgate::app {

// The keys of tlsgate.yaml whose value in `next` differs from the one the process started
// with (`running`) and that only a restart applies: threads (the workers exist), plugins
// (loaded once, S10) and ssl.client.session_cache (the shared cache is sized once).
std::vector<std::string> restartOnlyChanges(const config::GatewayConfig& running,
                                            const config::GatewayConfig& next);

}  // namespace tlsgate::app
