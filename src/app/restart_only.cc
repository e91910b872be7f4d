#include "app/restart_only.h"

namespace tlsgate::app {

namespace {

bool samePlugins(const std::vector<config::PluginConfig>& a,
                 const std::vector<config::PluginConfig>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].path != b[i].path || a[i].args != b[i].args) return false;
  return true;
}

}  // namespace

std::vector<std::string> restartOnlyChanges(const config::GatewayConfig& running,
                                            const config::GatewayConfig& next) {
  std::vector<std::string> changed;
  if (running.threads != next.threads) changed.push_back("threads");
  if (!samePlugins(running.plugins, next.plugins)) changed.push_back("plugins");
  if (running.ssl.client.sessionCache != next.ssl.client.sessionCache)
    changed.push_back("ssl.client.session_cache");
  auto sameAdmin = [](const auto& a, const auto& b) {
    return a.has_value() == b.has_value() && (!a || a->address.toString() == b->address.toString());
  };
  if (!sameAdmin(running.admin, next.admin)) changed.push_back("admin");
  auto sameLog = [](const auto& a, const auto& b) {
    return a.has_value() == b.has_value() && (!a || a->path == b->path);
  };
  if (!sameLog(running.accessLog, next.accessLog)) changed.push_back("access_log");
  return changed;
}

}  // namespace tlsgate::app
