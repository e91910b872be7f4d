// ExpiryIndex: when the certificates of a store expire, for the summary metrics of a large
// store (README "Metrics"): the soonest notAfter and how many certificates expire before a
// given time, each in O(log n) however many certificates there are. Built once per
// snapshot (the gateway sorts the notAfter of its distinct certificates), read by every
// scrape.
#pragma once

#include <cstddef>
#include <ctime>
#include <optional>
#include <vector>

namespace tlsgate::admin {

class ExpiryIndex {
 public:
  ExpiryIndex() = default;
  explicit ExpiryIndex(std::vector<std::time_t> notAfters);

  size_t size() const { return sorted_.size(); }
  // The earliest notAfter; nothing when there is no certificate.
  std::optional<std::time_t> soonest() const;
  // Certificates whose notAfter is before `t` (at `now`: the expired ones).
  size_t countBefore(std::time_t t) const;

 private:
  std::vector<std::time_t> sorted_;
};

}  // namespace tlsgate::admin
