#include "acme/renewal.h"

#include <algorithm>
#include <cmath>

#include "acme/client.h"

namespace tlsgate::acme {

namespace {

double clamp01(double x) {
  return std::isnan(x) ? 0 : std::clamp(x, 0.0, 1.0);
}

}  // namespace

std::time_t renewalTime(std::time_t notBefore, std::time_t notAfter, const RenewalPolicy& policy,
                        double random01) {
  double lifetime = std::max<double>(0, static_cast<double>(notAfter - notBefore));
  // The jitter is a share of the part of the lifetime before the renewal point, so it can
  // never pull the renewal back to notBefore (renew_remaining 0.999 renews once, not again
  // as soon as the new certificate arrives).
  const double share = std::clamp(policy.remainingShare, 0.0, 1.0);
  double early = share * lifetime + clamp01(random01) * policy.jitterShare * (1 - share) * lifetime;
  auto at = static_cast<std::time_t>(static_cast<double>(notAfter) - early);
  return std::max(at, notBefore);
}

std::time_t ariRenewalTime(const RenewalWindow& window, double random01) {
  if (window.end <= window.start) return window.start;
  double span = static_cast<double>(window.end - window.start);
  return window.start + static_cast<std::time_t>(clamp01(random01) * span);
}

std::chrono::seconds failureBackoff(int failuresInRow, std::time_t now, std::time_t notAfter) {
  constexpr long kFirst = 10, kMost = 60 * 60, kLeast = 10;
  int doublings = std::clamp(failuresInRow - 1, 0, 9);  // 10 s * 2^9 > 1 hour already
  long wait = std::min(kFirst << doublings, kMost);
  long left = notAfter > now ? static_cast<long>(notAfter - now) : 0;
  wait = std::min(wait, left / 10);
  return std::chrono::seconds(std::max(wait, kLeast));
}

}  // namespace tlsgate::acme
