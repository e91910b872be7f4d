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

CipherIndex& CipherIndex::instance() {
  static CipherIndex index;
  return index;
}

CipherIndex::CipherIndex() {
  names_[0].store("other", std::memory_order_relaxed);
}

size_t CipherIndex::indexOf(uint16_t protocolId, const char* name) {
  if (uint8_t i = byId_[protocolId].load(std::memory_order_acquire)) return i;
  std::lock_guard lock(mutex_);  // the first time this cipher is seen
  if (uint8_t i = byId_[protocolId].load(std::memory_order_relaxed)) return i;
  size_t next = count_.load(std::memory_order_relaxed);
  if (next >= kMaxCiphers) return 0;
  names_[next].store(name, std::memory_order_release);
  count_.store(next + 1, std::memory_order_release);
  byId_[protocolId].store(static_cast<uint8_t>(next), std::memory_order_release);
  return next;
}

void WorkerSeries::addTo(SeriesTotals& t) const {
  handshake.addTo(t.handshake);
  for (size_t i = 0; i < kTlsVersions; ++i)
    t.versions[i] += versions[i].load(std::memory_order_relaxed);
  for (size_t i = 0; i < kMaxCiphers; ++i)
    t.ciphers[i] += ciphers[i].load(std::memory_order_relaxed);
}

}  // namespace tlsgate::stats
