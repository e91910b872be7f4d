#include "admin/expiry_index.h"

#include <algorithm>
#include <utility>

namespace tlsgate::admin {

ExpiryIndex::ExpiryIndex(std::vector<std::time_t> notAfters) : sorted_(std::move(notAfters)) {
  std::sort(sorted_.begin(), sorted_.end());
}

std::optional<std::time_t> ExpiryIndex::soonest() const {
  if (sorted_.empty()) return std::nullopt;
  return sorted_.front();
}

size_t ExpiryIndex::countBefore(std::time_t t) const {
  return static_cast<size_t>(std::lower_bound(sorted_.begin(), sorted_.end(), t) - sorted_.begin());
}

}  // namespace tlsgate::admin
