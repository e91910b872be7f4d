// SourceTable: what admission control knows of each source, shared by every worker and
// kept across reloads (connections outlive snapshots): its connections, its handshakes in
// progress, its recent cost (full handshakes asked for) and its recent resumptions, both
// decaying with a half-life of kCostHalfLife. Sources are grouped by a prefix (/32, /24, /64...),
// as the settings say.
//
// Sharded by the key's hash, a mutex a shard: a worker holds one for a few hash-map
// operations. An entry goes when nothing holds it and its cost has decayed; a shard that
// is full (kShardCapacity) sweeps (at most once a second: a flood must not turn every new
// source into a scan), and past that new sources share one overflow entry, so
// that a flood of addresses costs a bounded amount of memory.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "net/address.h"

namespace tlsgate::proxy {

class SourceTable {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kCostHalfLife = std::chrono::seconds(1);
  static constexpr size_t kShards = 64;
  static constexpr size_t kShardCapacity = 16384;  // 1 M sources in all
  static constexpr auto kSweepEvery = std::chrono::seconds(1);

  // 16 bytes: an IPv4 address as ::ffff:a.b.c.d, host bits past the prefix cleared.
  struct Key {
    std::array<uint8_t, 16> bytes{};
    bool operator==(const Key&) const = default;
  };
  static Key keyOf(const net::Address& source, uint32_t prefixV4, uint32_t prefixV6);

  static SourceTable& instance();

  // Counts one more connection (handshake) of the source unless it has `max` already. With
  // no limit (0) only the total counts: the source's entry is not touched, so a gateway
  // without per-source bounds pays no lock or hash map per connection. `leave` is told
  // which of the two `enter` did (`tracked` = with a limit).
  bool enterConnection(const Key& key, uint32_t max) {
    return enter(key, &Entry::connections, connections, max);
  }
  void leaveConnection(const Key& key, bool tracked) {
    leave(key, &Entry::connections, connections, tracked);
  }
  bool enterHandshake(const Key& key, uint32_t max) {
    return enter(key, &Entry::handshakes, handshakes, max);
  }
  void leaveHandshake(const Key& key, bool tracked) {
    leave(key, &Entry::handshakes, handshakes, tracked);
  }
  // Adds a full handshake asked for to the source's cost; returns the cost now.
  double chargeFullHandshake(const Key& key, Clock::time_point now);
  // Adds a resumption to the source's record.
  void noteResumption(const Key& key, Clock::time_point now);
  // What load shedding asks of a source at accept: its cost and resumptions now.
  struct Standing {
    double cost = 0;
    double resumptions = 0;
  };
  Standing standing(const Key& key, Clock::time_point now);

  size_t size() const;

  // Every source together (README "Admission control": max_connections, max_handshakes).
  std::atomic<uint32_t> connections{0};
  std::atomic<uint32_t> handshakes{0};

 private:
  struct Entry {
    uint32_t connections = 0;
    uint32_t handshakes = 0;
    double cost = 0;
    double resumptions = 0;
    Clock::time_point decayedAt{};  // when cost and resumptions were last brought to date
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    std::unordered_map<Key, Entry, KeyHash> entries;
    Entry overflow;                 // the sources that found the shard full
    Clock::time_point nextSweep{};  // a full shard sweeps at most once a kSweepEvery
  };

  using Count = uint32_t Entry::*;  // connections or handshakes
  Shard& shardOf(const Key& key) { return shards_[KeyHash{}(key) % kShards]; }
  bool enter(const Key& key, Count count, std::atomic<uint32_t>& total, uint32_t max);
  void leave(const Key& key, Count count, std::atomic<uint32_t>& total, bool tracked);
  static Entry& entryIn(Shard& shard, const Key& key, Clock::time_point now);
  static void dropIfIdle(Shard& shard, const Key& key, Clock::time_point now);
  // The factor by which what was true at `then` has decayed at `now`.
  static double decay(Clock::time_point then, Clock::time_point now);
  static void bringToDate(Entry& e, Clock::time_point now);

  std::array<Shard, kShards> shards_;
};

}  // namespace tlsgate::proxy
