// RuleBuckets: the token buckets of the admission rules' limits, one per (rule, what is
// limited, key): the key is a source prefix, a server name or a JA4, as the rule's `per`
// says. One set per snapshot, shared by the workers: a reload starts every bucket full.
//
// Sharded, a mutex a shard. A shard that is full (kShardCapacity) drops the buckets that
// are full again (they remember nothing a new one would not); past that, new keys share
// one overflow bucket per rule, so a flood of names or fingerprints stays bounded. A shard
// sweeps at most once a second: a flood must not turn every new key into a scan.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/token_bucket.h"

namespace tlsgate::proxy {

class RuleBuckets {
 public:
  using Clock = TokenBucket::Clock;
  enum class Kind : uint8_t { kConnections, kHandshakes };
  static constexpr size_t kShards = 32;
  static constexpr size_t kShardCapacity = 8192;
  static constexpr auto kSweepEvery = std::chrono::seconds(1);

  // Spends a token of the bucket of (rule, kind, key); false when it is empty.
  bool take(size_t rule, Kind kind, std::string_view key, const RateLimit& limit,
            Clock::time_point now);

  size_t size() const;

 private:
  struct Bucket {
    TokenBucket tokens;
    RateLimit limit;  // its rule's, to tell when it is full again
  };
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
    Clock::time_point nextSweep{};  // a full shard sweeps at most once a kSweepEvery
  };
  static std::string bucketKey(size_t rule, Kind kind, std::string_view key);

  std::array<Shard, kShards> shards_;
};

}  // namespace tlsgate::proxy
