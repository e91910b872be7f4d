#include "app/plugin_loader.h"

#include <dlfcn.h>

#include "core/log.h"
#include "hooks/hook_registry.h"
#include "tlsgate/plugin.h"

namespace tlsgate::app {

Status loadPlugins(const config::GatewayConfig& config, bool initialise) {
  using InitFn = int (*)(int, int, const char* const*);
  for (const auto& plugin : config.plugins) {
    auto fail = [&](const std::string& what) {
      return Error{config.path, plugin.line, "plugin '" + plugin.path + "': " + what};
    };
    // RTLD_LOCAL: plugins do not see each other's symbols; they resolve the API from the
    // executable, which exports it.
    void* handle = ::dlopen(plugin.path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return fail(std::string("cannot load: ") + ::dlerror());
    auto init = reinterpret_cast<InitFn>(::dlsym(handle, "tlsgate_plugin_init"));
    if (!init) return fail("does not export tlsgate_plugin_init (not a tlsgate plugin?)");
    if (!initialise) continue;
    std::vector<const char*> argv{plugin.path.c_str()};
    for (const auto& a : plugin.args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    int rc = init(TLSGATE_PLUGIN_API_VERSION, static_cast<int>(argv.size() - 1), argv.data());
    if (rc != 0) return fail("tlsgate_plugin_init failed (returned " + std::to_string(rc) + ")");
    log::info("plugin %s loaded", plugin.path.c_str());
  }
  hooks::HookRegistry::instance().freeze();
  return Ok{};
}

}  // namespace tlsgate::app
