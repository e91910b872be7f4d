// When to renew a certificate: pure arithmetic, so that the schedule is unit-tested and
// the manager only supplies the clock and the random numbers.
#pragma once

#include <chrono>
#include <ctime>

namespace tlsgate::acme {

struct RenewalWindow;  // acme/client.h

struct RenewalPolicy {
  double remainingShare = 1.0 / 3;  // renew when this share of the lifetime is left
  double jitterShare = 0.05;        // ... minus up to this share, so a fleet spreads out
};

// notAfter - remainingShare * lifetime - random01 * jitterShare * (1 - remainingShare) *
// lifetime, never before notBefore. random01 is in [0, 1].
std::time_t renewalTime(std::time_t notBefore, std::time_t notAfter, const RenewalPolicy& policy,
                        double random01);

// The point random01 of the way through the ARI suggested window (RFC 9773 section 4.2:
// a uniformly random time in it); its start when the window is empty or reversed.
std::time_t ariRenewalTime(const RenewalWindow& window, double random01);

// The wait after failuresInRow (>= 1) failed renewals: 10 s, doubling, at most 1 hour,
// and at most a tenth of what is left until notAfter, but at least 10 seconds.
std::chrono::seconds failureBackoff(int failuresInRow, std::time_t now, std::time_t notAfter);

}  // namespace tlsgate::acme
