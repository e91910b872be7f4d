// Loading plugins (include/tlsgate/plugin.h) with dlopen, in the order of tlsgate.yaml.
#pragma once

#include <string>
#include <vector>

#include "config/gateway_config.h"
#include "core/result.h"

namespace tlsgate::app {

// Opens every plugin and calls its tlsgate_plugin_init(). With `initialise` false (for
// --check) it only checks that each file loads and exports tlsgate_plugin_init. Errors name
// tlsgate.yaml, the plugin's line and the plugin. Plugins stay loaded for the process's life.
Status loadPlugins(const config::GatewayConfig& config, bool initialise);

}  // namespace tlsgate::app
