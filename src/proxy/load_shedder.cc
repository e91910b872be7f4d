#include "proxy/load_shedder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "proxy/source_table.h"

namespace tlsgate::proxy {

namespace {

// Costs halve every SourceTable::kCostHalfLife; the highest seen decays alike, per tick.
const double kTopDecayPerTick =
    std::exp2(-std::chrono::duration<double>(LoadShedder::kTick) /
              std::chrono::duration<double>(SourceTable::kCostHalfLife));

// A calm tick raises the threshold by 5 % (x1.6 in 100 ms), up to just under the level at
// which the overload came back last time.
constexpr double kRaisePerCalmTick = 1.05;
constexpr double kBelowCeiling = 0.9;

}  // namespace

void LoadShedder::sample(Clock::duration lateBy, uint32_t handshaking,
                         const ShedSettings& settings) {
  lag_ = (lag_ + lateBy) / 2;  // smoothed: one slow batch is not an overload
  topCost_ *= kTopDecayPerTick;
  const bool overloaded =
      settings.enabled && (lag_ > settings.maxLoopLag ||
                           (settings.maxHandshakes != 0 && handshaking > settings.maxHandshakes));
  if (overloaded) {
    if (shedding_) {
      // The threshold was too high: remember it, so that the calm does not raise it there
      // again while the sources that cost that much keep asking.
      ceiling_ = threshold_;
      threshold_ /= 2;
    } else {
      ceiling_ = std::numeric_limits<double>::infinity();
      threshold_ = topCost_ / 2;
    }
    threshold_ = std::max(threshold_, kMinThreshold);
    shedding_ = true;
  } else if (shedding_) {
    threshold_ = std::min(threshold_ * kRaisePerCalmTick, ceiling_ * kBelowCeiling);
    threshold_ = std::max(threshold_, kMinThreshold);
    // Over once the costly sources stopped asking: their cost (the top) decays under it.
    if (threshold_ > 2 * topCost_) shedding_ = false;
  }
}

bool LoadShedder::refuses(double cost) {
  topCost_ = std::max(topCost_, cost);
  return shedding_ && cost >= threshold_;
}

}  // namespace tlsgate::proxy
