// HookRegistry: the chains of every hook point, filled by plugins at startup and read-only
// afterwards (so workers read them without locks).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "tlsgate/plugin.h"

namespace tlsgate::hooks {

struct HookEntry {
  tlsgate_hook_fn fn;
  void* data;
};

class HookRegistry {
 public:
  // The process-wide registry (plugins are process-wide).
  static HookRegistry& instance();

  // Appends to a chain; false for a bad point or once frozen.
  bool add(tlsgate_hook_point point, tlsgate_hook_fn fn, void* data);
  // After plugin initialisation: no more hooks may be added.
  void freeze();

  const std::vector<HookEntry>& chain(tlsgate_hook_point point) const { return chains_[point]; }
  // No hook at all (the common case): connections then get no hook runner. Known once the
  // registry is frozen, so no accept pays for a scan.
  bool empty() const { return empty_; }

 private:
  std::array<std::vector<HookEntry>, TLSGATE_HOOK_COUNT> chains_;
  bool frozen_ = false;
  bool empty_ = true;
};

}  // namespace tlsgate::hooks
