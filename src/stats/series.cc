#include "stats/series.h"

namespace tlsgate::stats {

uint64_t HistogramTotals::count() const {
  uint64_t n = 0;
  for (uint64_t c : counts) n += c;
  return n;
}

size_t LatencyHistogram::bucketOf(uint64_t us) {
  size_t i = 0;
  while (i < kHandshakeBucketsUs.size() && us > kHandshakeBucketsUs[i]) ++i;
  return i;
}

void LatencyHistogram::addTo(HistogramTotals& t) const {
  for (size_t i = 0; i < kHandshakeBuckets; ++i)
    t.counts[i] += counts_[i].load(std::memory_order_relaxed);
  t.sumUs += sumUs_.load(std::memory_order_relaxed);
}

size_t tlsVersionIndex(int protocolVersion) {
  // 0x0301 (TLS 1.0) ... 0x0304 (TLS 1.3).
  if (protocolVersion >= 0x0301 && protocolVersion <= 0x0304)
    return static_cast<size_t>(protocolVersion - 0x0301);
  return kTlsVersions - 1;
}

const char* tlsVersionName(size_t index) {
  static constexpr const char* kNames[kTlsVersions] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3",
                                                       "other"};
  return index < kTlsVersions ? kNames[index] : "other";
}

LabelIndex& LabelIndex::ciphers() {
  static LabelIndex index;
  return index;
}

LabelIndex& LabelIndex::groups() {
  static LabelIndex index;
  return index;
}

LabelIndex::LabelIndex() {
  names_[0] = "other";
}

size_t LabelIndex::indexOf(uint32_t key, std::string_view name) {
  size_t known = count();
  for (size_t i = 1; i < known; ++i)
    if (keys_[i].load(std::memory_order_relaxed) == key) return i;
  std::lock_guard lock(mutex_);  // the first time this label is seen
  known = count_.load(std::memory_order_relaxed);
  for (size_t i = 1; i < known; ++i)
    if (keys_[i].load(std::memory_order_relaxed) == key) return i;
  if (known >= kMaxLabels) return 0;
  names_[known] = name;
  keys_[known].store(key, std::memory_order_relaxed);
  count_.store(known + 1, std::memory_order_release);
  return known;
}

void WorkerSeries::addTo(SeriesTotals& t) const {
  handshake.addTo(t.handshake);
  for (size_t i = 0; i < kTlsVersions; ++i)
    t.versions[i] += versions[i].load(std::memory_order_relaxed);
  for (size_t i = 0; i < kMaxLabels; ++i) {
    t.ciphers[i] += ciphers[i].load(std::memory_order_relaxed);
    t.groups[i] += groups[i].load(std::memory_order_relaxed);
  }
}

}  // namespace tlsgate::stats
