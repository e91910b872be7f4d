// HookRegistry: the chains of every hook point, filled by plugins at startup and read-only
// afterwards (so workers read them without locks).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/plugin.h"

namespace tlsgate::hooks {

struct HookEntry {
  tlsgate_hook_fn fn;
  void* data;
};

// An endpoint a plugin registered for an ALPN protocol (S14).
struct EndpointEntry {
  std::string protocol;
  tlsgate_endpoint_fn fn;
  void* data;
};

class HookRegistry {
 public:
  // The process-wide registry (plugins are process-wide).
  static HookRegistry& instance();

  // Appends to a chain; false for a bad point or once frozen.
  bool add(tlsgate_hook_point point, tlsgate_hook_fn fn, void* data);
  // Registers the endpoint of `protocol`; false for a bad name, a protocol that has one
  // already, or once frozen.
  bool addEndpoint(std::string_view protocol, tlsgate_endpoint_fn fn, void* data);
  // After plugin initialisation: no more hooks may be added.
  void freeze();

  const std::vector<HookEntry>& chain(tlsgate_hook_point point) const { return chains_[point]; }
  // No hook at all (the common case): connections then get no hook runner. Known once the
  // registry is frozen, so no accept pays for a scan.
  bool empty() const { return empty_; }

  const EndpointEntry* endpoint(std::string_view protocol) const;
  std::vector<std::string> endpointProtocols() const;

 private:
  std::vector<EndpointEntry> endpoints_;  // a handful: a scan is the fastest lookup
  std::array<std::vector<HookEntry>, TLSGATE_HOOK_COUNT> chains_;
  bool frozen_ = false;
  bool empty_ = true;
};

}  // namespace tlsgate::hooks
