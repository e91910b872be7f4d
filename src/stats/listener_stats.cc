#include "stats/listener_stats.h"

namespace tlsgate::stats {

const char* toString(Outcome o) {
  switch (o) {
    case Outcome::kTerminated:
      return "terminated";
    case Outcome::kForward:
      return "forward";
    case Outcome::kPartialBlind:
      return "partial_blind";
    case Outcome::kTunnel:
      return "tunnel";
    case Outcome::kError:
      return "error";
  }
  return "error";
}

uint64_t ListenerTotals::active() const {
  uint64_t done = 0;
  for (uint64_t c : closed) done += c;
  return accepted >= done ? accepted - done : 0;  // readers may see a close before its accept
}

ListenerStats::ListenerStats(std::string key, std::string label)
    : key_(std::move(key)), label_(std::move(label)), slots_(new Slot[kMaxWorkers]) {}

void ListenerStats::closed(int worker, Outcome outcome, uint64_t bytesIn, uint64_t bytesOut) {
  Slot& s = slot(worker);
  bump(s.closed[static_cast<size_t>(outcome)]);
  if (bytesIn) bump(s.bytesIn, bytesIn);
  if (bytesOut) bump(s.bytesOut, bytesOut);
}

ListenerTotals ListenerStats::sum() const {
  ListenerTotals t;
  for (size_t w = 0; w < kMaxWorkers; ++w) {
    const Slot& s = slots_[w];
    t.accepted += s.accepted.load(std::memory_order_relaxed);
    for (size_t i = 0; i < kOutcomes; ++i)
      t.closed[i] += s.closed[i].load(std::memory_order_relaxed);
    t.bytesIn += s.bytesIn.load(std::memory_order_relaxed);
    t.bytesOut += s.bytesOut.load(std::memory_order_relaxed);
  }
  return t;
}

ListenerRegistry& ListenerRegistry::instance() {
  static ListenerRegistry registry;
  return registry;
}

ListenerStats* ListenerRegistry::add(const std::string& key, const std::string& label) {
  std::lock_guard lock(mutex_);
  if (ListenerStats* found = find(key)) return found;
  size_t n = count_.load(std::memory_order_relaxed);
  if (n >= kMaxListeners) return nullptr;
  owned_.push_back(std::make_unique<ListenerStats>(key, label));
  entries_[n].store(owned_.back().get(), std::memory_order_release);
  count_.store(n + 1, std::memory_order_release);
  return owned_.back().get();
}

ListenerStats* ListenerRegistry::find(const std::string& key) const {
  size_t n = count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    ListenerStats* s = entries_[i].load(std::memory_order_acquire);
    if (s->key() == key) return s;
  }
  return nullptr;
}

std::vector<const ListenerStats*> ListenerRegistry::all() const {
  std::vector<const ListenerStats*> out;
  size_t n = count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) out.push_back(entries_[i].load(std::memory_order_acquire));
  return out;
}

}  // namespace tlsgate::stats
