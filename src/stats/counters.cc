#include "stats/counters.h"

namespace tlsgate::stats {

namespace {
constexpr const char* kNames[] = {
#define X(id, name) name,
    TLSGATE_COUNTERS(X)
#undef X
};
static_assert(std::size(kNames) == kCounterCount);
}  // namespace

const char* counterName(Counter c) {
  return kNames[static_cast<size_t>(c)];
}

CounterBlock& CounterRegistry::newBlock() {
  std::lock_guard lock(mutex_);
  blocks_.push_back(std::make_unique<CounterBlock>());
  return *blocks_.back();
}

Totals CounterRegistry::sum() const {
  Totals totals{};
  std::lock_guard lock(mutex_);
  for (const auto& block : blocks_)
    for (size_t i = 0; i < kCounterCount; ++i) totals[i] += block->get(static_cast<Counter>(i));
  return totals;
}

SeriesTotals CounterRegistry::sumSeries() const {
  SeriesTotals totals;
  std::lock_guard lock(mutex_);
  for (const auto& block : blocks_) block->series.addTo(totals);
  return totals;
}

CounterRegistry& backgroundCounters() {
  static CounterRegistry registry;
  return registry;
}

std::string CounterRegistry::toJson(const Totals& totals) {
  std::string out = "{";
  for (size_t i = 0; i < kCounterCount; ++i) {
    if (i) out += ", ";
    out += '"';
    out += kNames[i];
    out += "\": ";
    out += std::to_string(totals[i]);
  }
  out += '}';
  return out;
}

}  // namespace tlsgate::stats
