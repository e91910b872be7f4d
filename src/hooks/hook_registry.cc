#include "hooks/hook_registry.h"

namespace tlsgate::hooks {

HookRegistry& HookRegistry::instance() {
  // Never destroyed: plugins, their hook data and their threads live until the process
  // ends, and a hook may still run while static destructors do.
  static HookRegistry* registry = new HookRegistry;
  return *registry;
}

bool HookRegistry::add(tlsgate_hook_point point, tlsgate_hook_fn fn, void* data) {
  if (frozen_ || fn == nullptr || point < 0 || point >= TLSGATE_HOOK_COUNT) return false;
  chains_[point].push_back(HookEntry{fn, data});
  return true;
}

void HookRegistry::freeze() {
  frozen_ = true;
  empty_ = true;
  for (const auto& chain : chains_) empty_ = empty_ && chain.empty();
}

}  // namespace tlsgate::hooks

extern "C" int tlsgate_hook_add(tlsgate_hook_point point, tlsgate_hook_fn fn, void* data) {
  return tlsgate::hooks::HookRegistry::instance().add(point, fn, data) ? 0 : -1;
}
