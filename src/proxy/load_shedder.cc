#include "proxy/load_shedder.h"

#include <algorithm>
#include <cmath>

#include "proxy/source_table.h"

namespace tlsgate::proxy {

namespace {

// Costs halve every SourceTable::kCostHalfLife; the highest seen decays alike, per tick.
const double kTopDecayPerTick =
    std::exp2(-std::chrono::duration<double>(LoadShedder::kTick) /
              std::chrono::duration<double>(SourceTable::kCostHalfLife));

}  // namespace

void LoadShedder::sample(Clock::duration lateBy, uint32_t handshaking,
                         const ShedSettings& settings) {
  lag_ = (lag_ + lateBy) / 2;  // smoothed: one slow batch is not an overload
  topCost_ *= kTopDecayPerTick;
  const bool overloaded =
      settings.enabled && (lag_ > settings.maxLoopLag ||
                           (settings.maxHandshakes != 0 && handshaking > settings.maxHandshakes));
  if (overloaded) {
    threshold_ = shedding_ ? threshold_ / 2 : topCost_ / 2;
    threshold_ = std::max(threshold_, kMinThreshold);
    shedding_ = true;
  } else if (shedding_) {
    threshold_ *= 1.25;
    if (threshold_ > topCost_) shedding_ = false;
  }
}

bool LoadShedder::refuses(double cost) {
  topCost_ = std::max(topCost_, cost);
  return shedding_ && cost >= threshold_;
}

}  // namespace tlsgate::proxy
