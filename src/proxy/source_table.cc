#include "proxy/source_table.h"

#include <cmath>
#include <cstring>
#include <string_view>

namespace tlsgate::proxy {

namespace {

// Below this a source's cost is forgotten with its entry.
constexpr double kForgottenCost = 0.5;

void clearHostBits(std::array<uint8_t, 16>& bytes, uint32_t prefixBits) {
  for (uint32_t bit = prefixBits; bit < 128; ++bit)
    bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
}

}  // namespace

SourceTable::Key SourceTable::keyOf(const net::Address& source, uint32_t prefixV4,
                                    uint32_t prefixV6) {
  Key key;
  std::string_view ip = source.ipBytes();
  bool v4 = ip.size() == 4;
  if (!v4 && ip.size() == 16) {  // a dual-stack socket's IPv4 client is an IPv4 source
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    v4 = std::memcmp(ip.data(), kMapped, sizeof kMapped) == 0;
    if (v4) ip.remove_prefix(12);
  }
  if (v4) {
    key.bytes[10] = key.bytes[11] = 0xff;
    std::memcpy(key.bytes.data() + 12, ip.data(), 4);
    clearHostBits(key.bytes, 96 + prefixV4);
  } else if (ip.size() == 16) {
    std::memcpy(key.bytes.data(), ip.data(), 16);
    clearHostBits(key.bytes, prefixV6);
  }
  return key;
}

SourceTable& SourceTable::instance() {
  static SourceTable table;
  return table;
}

size_t SourceTable::KeyHash::operator()(const Key& k) const {
  uint64_t a = 0, b = 0;
  std::memcpy(&a, k.bytes.data(), 8);
  std::memcpy(&b, k.bytes.data() + 8, 8);
  uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
  return static_cast<size_t>(h ^ (h >> 31));
}

double SourceTable::decay(Clock::time_point then, Clock::time_point now) {
  if (now <= then) return 1;
  return std::exp2(-std::chrono::duration<double>(now - then) /
                   std::chrono::duration<double>(kCostHalfLife));
}

void SourceTable::bringToDate(Entry& e, Clock::time_point now) {
  if (now <= e.decayedAt) return;
  if (e.cost != 0 || e.resumptions != 0) {
    const double f = decay(e.decayedAt, now);
    e.cost *= f;
    e.resumptions *= f;
  }
  e.decayedAt = now;
}

SourceTable::Entry& SourceTable::entryIn(Shard& shard, const Key& key, Clock::time_point now) {
  if (auto it = shard.entries.find(key); it != shard.entries.end()) return it->second;
  if (shard.entries.size() >= kShardCapacity && now >= shard.nextSweep) {
    shard.nextSweep = now + kSweepEvery;
    std::erase_if(shard.entries, [now](const auto& kv) {
      const Entry& e = kv.second;
      return e.connections == 0 && e.handshakes == 0 &&
             e.cost * decay(e.decayedAt, now) < kForgottenCost;
    });
  }
  if (shard.entries.size() >= kShardCapacity) return shard.overflow;
  return shard.entries[key];
}

void SourceTable::dropIfIdle(Shard& shard, const Key& key, Clock::time_point now) {
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return;
  const Entry& e = it->second;
  if (e.connections == 0 && e.handshakes == 0 && e.cost * decay(e.decayedAt, now) < kForgottenCost)
    shard.entries.erase(it);
}

bool SourceTable::enter(const Key& key, Count count, std::atomic<uint32_t>& total, uint32_t max) {
  if (max == 0) {
    total.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  Entry& e = entryIn(shard, key, Clock::now());
  // The overflow entry is shared by strangers: no per-source bound applies to it.
  if (e.*count >= max && &e != &shard.overflow) return false;
  ++(e.*count);
  total.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void SourceTable::leave(const Key& key, Count count, std::atomic<uint32_t>& total, bool tracked) {
  total.fetch_sub(1, std::memory_order_relaxed);
  if (!tracked) return;
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  Entry& e = it != shard.entries.end() ? it->second : shard.overflow;
  if (e.*count > 0) --(e.*count);
  dropIfIdle(shard, key, Clock::now());
}

double SourceTable::chargeFullHandshake(const Key& key, Clock::time_point now) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  Entry& e = entryIn(shard, key, now);
  bringToDate(e, now);
  return e.cost += 1;
}

void SourceTable::noteResumption(const Key& key, Clock::time_point now) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  Entry& e = entryIn(shard, key, now);
  bringToDate(e, now);
  e.resumptions += 1;
}

SourceTable::Standing SourceTable::standing(const Key& key, Clock::time_point now) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return {};
  bringToDate(it->second, now);
  return {it->second.cost, it->second.resumptions};
}

size_t SourceTable::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.entries.size();
  }
  return n;
}

}  // namespace tlsgate::proxy
