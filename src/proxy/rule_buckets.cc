#include "proxy/rule_buckets.h"

#include <functional>

namespace tlsgate::proxy {

std::string RuleBuckets::bucketKey(size_t rule, Kind kind, std::string_view key) {
  std::string k;
  k.reserve(key.size() + 5);
  k.push_back(static_cast<char>(kind));
  for (int shift = 24; shift >= 0; shift -= 8) k.push_back(static_cast<char>(rule >> shift));
  k.append(key);
  return k;
}

bool RuleBuckets::take(size_t rule, Kind kind, std::string_view key, const RateLimit& limit,
                       Clock::time_point now) {
  std::string k = bucketKey(rule, kind, key);
  Shard& shard = shards_[std::hash<std::string>{}(k) % kShards];
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(k);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= kShardCapacity && now >= shard.nextSweep) {
      shard.nextSweep = now + kSweepEvery;
      std::erase_if(shard.buckets,
                    [&](const auto& kv) { return kv.second.tokens.fullAt(kv.second.limit, now); });
    }
    if (shard.buckets.size() >= kShardCapacity) k = bucketKey(rule, kind, {});  // overflow
    it = shard.buckets.try_emplace(std::move(k), Bucket{TokenBucket(limit, now), limit}).first;
  }
  return it->second.tokens.take(limit, now);
}

size_t RuleBuckets::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace tlsgate::proxy
