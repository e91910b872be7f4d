// OnDemandQueue: acme.on_demand's side of the workers' OnDemandGate (tls/on_demand_gate.h).
// Workers put names in (request) and read the negative cache (refused); the manager's thread
// takes the names out one at a time, asks the `ask` policy (askAllows), orders within the
// global rate (takeOrderSlot), then answers every handshake waiting on the name (finish).
// One pending entry per name: later handshakes for it wait on the same order.
#pragma once

#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "acme/options.h"
#include "core/result.h"
#include "tls/on_demand_gate.h"

namespace tlsgate::acme {

class OnDemandQueue final : public tls::OnDemandGate {
 public:
  // `wake`: called (from a worker) when a name is queued; it must not call back in here.
  OnDemandQueue(OnDemandOptions options, std::function<void()> wake);

  bool refused(std::string_view name) const override;
  void request(const std::string& name, std::function<void()> done) override;
  std::chrono::seconds timeout() const override { return options_.timeout; }
  bool alertOnRefusal() const override { return options_.alertOnRefusal; }

  // The manager's thread.
  std::optional<std::string> next();
  // Answers everything waiting on `name`; `refused`: not tried again for `backoff`.
  void finish(const std::string& name, bool refused);
  // True (and the order counted) while fewer than `rate` orders started in the last minute.
  bool takeOrderSlot(std::time_t now);
  // The manager stops: nothing is woken any more (the snapshots may outlive it).
  void detach();

  const OnDemandOptions& options() const { return options_; }

  // Bounds against a flood of made-up names: names waiting for the manager (more get the
  // fallback at once) and names remembered as refused (more are forgotten first).
  static constexpr size_t kMaxQueued = 256;
  static constexpr size_t kMaxRefused = 65536;

 private:
  const OnDemandOptions options_;
  mutable std::mutex mutex_;
  std::function<void()> wake_;
  std::map<std::string, std::vector<std::function<void()>>, std::less<>> waiting_;
  std::deque<std::string> queue_;
  std::map<std::string, std::time_t, std::less<>> refusedUntil_;
  std::deque<std::time_t> recentOrders_;  // the manager's thread only
};

// The ask policy: GET <url>?domain=<name> (&domain= when the URL has a query already); a 200
// allows the name, any other status refuses it; an Error when the policy did not answer
// within `timeout` (refused too, by the caller).
Result<bool> askAllows(const std::string& url, const std::string& name,
                       std::chrono::seconds timeout);

}  // namespace tlsgate::acme
