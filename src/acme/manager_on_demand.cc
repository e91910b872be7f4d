// Manager: acme.on_demand on the manager's thread (README "On-demand certificates").
#include "acme/manager.h"

#include <algorithm>

#include "acme/state_dir.h"
#include "core/log.h"

namespace tlsgate::acme {

using stats::Counter;

Manager::Tracked* Manager::trackedByName(const std::string& name) {
  for (Tracked& t : tracked_)
    if (std::find(t.spec.names.begin(), t.spec.names.end(), name) != t.spec.names.end()) return &t;
  return nullptr;
}

// Each queued name in turn; a handshake waits at most acme.on_demand.timeout for its answer
// whatever the thread is doing, so one slow order delays the others' answers, not workers.
void Manager::serveOnDemand() {
  {
    std::lock_guard lock(mutex_);
    onDemandQueued_ = false;
  }
  while (auto name = onDemand_->next()) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    OnDemandResult result = obtainOnDemand(*name);
    onDemand_->finish(*name, result == OnDemandResult::kRefused);
  }
}

// Served: what is held or stored for the name, else a new order if `ask` allows it and the
// rate has room. Refused (not asked again for `backoff`): the policy said no or did not
// answer, or the order failed. Busy (asked again by the next handshake): no room in the rate.
Manager::OnDemandResult Manager::obtainOnDemand(const std::string& name) {
  // A configured certificate's name: its own order serves it.
  if (Tracked* t = trackedByName(name))
    return t->held ? OnDemandResult::kServed : OnDemandResult::kBusy;
  tracked_.push_back(Tracked{ManagedName{{name}}, {}, 0, 0, 0});
  loadStored(tracked_.back());  // a restart: what the state directory holds for it
  if (tracked_.back().held) return OnDemandResult::kServed;
  tracked_.pop_back();
  const OnDemandOptions& o = *options_.onDemand;
  auto allowed = askAllows(o.askUrl, name, o.timeout);
  if (!allowed || !*allowed) {
    counters_.add(Counter::kAcmeOnDemandRefused);
    log::info("acme: on demand: '%s' refused: %s", name.c_str(),
              allowed ? "the ask policy did not answer 200" : allowed.error().toString().c_str());
    return OnDemandResult::kRefused;
  }
  if (!onDemand_->takeOrderSlot(std::time(nullptr))) {
    log::warning(
        "acme: on demand: '%s': %d orders in the last minute already (acme.on_demand.rate)",
        name.c_str(), o.ratePerMinute);
    return OnDemandResult::kBusy;
  }
  tracked_.push_back(Tracked{ManagedName{{name}}, {}, 0, 0, 0});
  attempt(tracked_.back());
  if (tracked_.back().held) return OnDemandResult::kServed;
  tracked_.pop_back();  // failed: not retried on its own, only by a handshake after `backoff`
  return OnDemandResult::kRefused;
}

}  // namespace tlsgate::acme
