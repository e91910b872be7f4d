// LoadShedder: one worker's load shedding by cost (README "Admission control",
// docs/decisions.md). While the worker is overloaded it refuses full handshakes from the
// sources whose recent cost (full handshakes asked for, SourceTable) is at least a
// threshold. The threshold starts at half the highest cost seen, halves on every tick that
// is still overloaded and grows by 5 % on every calm one, but not back up to where the
// overload came back last time; shedding stops once it passes twice the highest cost, i.e.
// when the costly sources stopped asking. The costliest sources go first, and a source that
// asked for one full handshake (a new visitor) is never refused. Resumptions and established
// connections are never shed: they are not asked. A source that costs that much and has not resumed
// lately is shed already at accept (admission.h), before its connection costs anything.
//
// Overloaded: the event loop's lag (how late the worker's tick timer fires, smoothed) is
// above max_loop_lag, or the worker has more than max_handshakes handshakes in progress.
// Plain data fed by the worker's tick: unit-testable without a clock.
#pragma once

#include <chrono>
#include <cstdint>

#include "proxy/admission_rules.h"

namespace tlsgate::proxy {

class LoadShedder {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kTick = std::chrono::milliseconds(10);
  // Never refused: the cost of a source's first full handshake in a while.
  static constexpr double kMinThreshold = 2;

  // One tick: how late it fired, and the worker's handshakes in progress.
  void sample(Clock::duration lateBy, uint32_t handshaking, const ShedSettings& settings);
  // A full handshake asked for by a source whose cost (with it) is `cost`.
  bool refuses(double cost);

  bool shedding() const { return shedding_; }
  double threshold() const { return threshold_; }
  Clock::duration loopLag() const { return lag_; }
  double topCost() const { return topCost_; }

 private:
  bool shedding_ = false;
  double threshold_ = 0;
  double ceiling_ = 0;  // the threshold at which the overload last came back
  double topCost_ = 0;  // the highest cost seen lately, decaying as costs do
  Clock::duration lag_{};
};

}  // namespace tlsgate::proxy
