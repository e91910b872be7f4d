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

bool HookRegistry::addEndpoint(std::string_view protocol, tlsgate_endpoint_fn fn, void* data) {
  if (frozen_ || fn == nullptr || protocol.empty() || protocol.size() > 255 || endpoint(protocol))
    return false;
  endpoints_.push_back(EndpointEntry{std::string(protocol), fn, data});
  return true;
}

const EndpointEntry* HookRegistry::endpoint(std::string_view protocol) const {
  for (const auto& e : endpoints_)
    if (e.protocol == protocol) return &e;
  return nullptr;
}

std::vector<std::string> HookRegistry::endpointProtocols() const {
  std::vector<std::string> out;
  for (const auto& e : endpoints_) out.push_back(e.protocol);
  return out;
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

extern "C" int tlsgate_endpoint_register(const char* protocol, tlsgate_endpoint_fn fn, void* data) {
  if (!protocol) return -1;
  return tlsgate::hooks::HookRegistry::instance().addEndpoint(protocol, fn, data) ? 0 : -1;
}
