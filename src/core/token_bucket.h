// TokenBucket: `rate` tokens a second, at most `burst` saved up; take() spends one. The clock
// is passed in (the reactor's, or a test's fake one), so a bucket is 16 bytes of plain data
// and the rate and burst live once, in whatever configures the buckets.
#pragma once

#include <algorithm>
#include <chrono>

namespace tlsgate {

struct RateLimit {
  double rate = 0;   // tokens a second; 0 = not limited
  double burst = 0;  // the bucket's size (at least 1)
  bool limited() const { return rate > 0; }
};

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // A new bucket is full: a source seen for the first time gets its burst.
  TokenBucket(const RateLimit& limit, Clock::time_point now) : tokens_(limit.burst), last_(now) {}

  // Refills for the time since the last call, then spends a token if there is one.
  bool take(const RateLimit& limit, Clock::time_point now) {
    refill(limit, now);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }
  // Full again at `now`: the bucket remembers nothing a new one would not.
  bool fullAt(const RateLimit& limit, Clock::time_point now) const {
    return tokensAt(limit, now) >= limit.burst;
  }
  double tokensAt(const RateLimit& limit, Clock::time_point now) const {
    if (now <= last_) return tokens_;
    return std::min(limit.burst,
                    tokens_ + limit.rate * std::chrono::duration<double>(now - last_).count());
  }

 private:
  void refill(const RateLimit& limit, Clock::time_point now) {
    tokens_ = tokensAt(limit, now);
    if (now > last_) last_ = now;
  }

  double tokens_;
  Clock::time_point last_;
};

}  // namespace tlsgate
