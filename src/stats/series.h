// Per-worker series beyond the plain counters (README "Metrics"): the latency histogram of
// successful inbound handshakes, and their TLS versions, ciphers and key exchange groups.
//
// Like CounterBlock, every series has one writer (its worker): an update is a relaxed load
// and store, no lock and no contended atomic. Readers sum the workers with relaxed loads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace tlsgate::stats {

// The single-writer increment every per-worker series uses.
inline void bump(std::atomic<uint64_t>& slot, uint64_t n = 1) {
  slot.store(slot.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Upper bounds of the handshake histogram's buckets, in microseconds: 0.5 ms ... 5 s.
inline constexpr std::array<uint64_t, 13> kHandshakeBucketsUs = {
    500,     1'000,   2'500,   5'000,     10'000,    25'000,   50'000,
    100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000};
inline constexpr size_t kHandshakeBuckets = kHandshakeBucketsUs.size() + 1;  // + the +Inf one

// Per bucket (not cumulative: the formatter accumulates), the last one above every bound.
struct HistogramTotals {
  std::array<uint64_t, kHandshakeBuckets> counts{};
  uint64_t sumUs = 0;
  uint64_t count() const;
};

class LatencyHistogram {
 public:
  // The first bucket whose bound is >= us (Prometheus' le).
  static size_t bucketOf(uint64_t us);
  void observe(uint64_t us) {
    bump(counts_[bucketOf(us)]);
    bump(sumUs_, us);
  }
  void addTo(HistogramTotals& t) const;

 private:
  std::array<std::atomic<uint64_t>, kHandshakeBuckets> counts_{};
  std::atomic<uint64_t> sumUs_{0};
};

// TLS versions by index: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, then any other.
inline constexpr size_t kTlsVersions = 5;
size_t tlsVersionIndex(int protocolVersion);  // SSL_version()'s value
const char* tlsVersionName(size_t index);

// Labels (cipher names, key exchange group names) get a small index the first time one is
// seen, under a mutex once per label for the process; afterwards the lookup scans the few
// known keys with acquire loads, no lock. Index 0 is "other": every label past kMaxLabels
// (which no real configuration reaches).
inline constexpr size_t kMaxLabels = 64;

class LabelIndex {
 public:
  static LabelIndex& ciphers();  // keyed by SSL_CIPHER_get_protocol_id
  static LabelIndex& groups();   // keyed by SSL_get_negotiated_group
  // The name is copied the first time `key` is seen.
  size_t indexOf(uint32_t key, std::string_view name);
  // Indexes handed out so far (1..count()-1 are named).
  size_t count() const { return count_.load(std::memory_order_acquire); }
  const char* name(size_t index) const { return names_[index].c_str(); }

  LabelIndex();

 private:
  std::array<std::atomic<uint32_t>, kMaxLabels> keys_{};
  std::array<std::string, kMaxLabels> names_;  // written before count_ publishes them
  std::atomic<size_t> count_{1};
  std::mutex mutex_;
};

struct SeriesTotals {
  HistogramTotals handshake;
  std::array<uint64_t, kTlsVersions> versions{};
  std::array<uint64_t, kMaxLabels> ciphers{};  // by LabelIndex::ciphers()
  std::array<uint64_t, kMaxLabels> groups{};   // by LabelIndex::groups()
};

// One worker's series.
struct WorkerSeries {
  LatencyHistogram handshake;
  std::array<std::atomic<uint64_t>, kTlsVersions> versions{};
  std::array<std::atomic<uint64_t>, kMaxLabels> ciphers{};
  std::array<std::atomic<uint64_t>, kMaxLabels> groups{};

  // A successful inbound handshake.
  void handshakeDone(uint64_t us, int protocolVersion, size_t cipherIndex, size_t groupIndex) {
    handshake.observe(us);
    bump(versions[tlsVersionIndex(protocolVersion)]);
    bump(ciphers[cipherIndex < kMaxLabels ? cipherIndex : 0]);
    bump(groups[groupIndex < kMaxLabels ? groupIndex : 0]);
  }
  void addTo(SeriesTotals& t) const;
};

}  // namespace tlsgate::stats
