// ParsedCertCache: the OpenSSL objects of the certificates handshakes served lately
// (issue 19). The store keeps each certificate as DER (CertMaterial); a handshake that
// serves one asks here for its X509 and key, parsed on the first handshake that needs them
// (on that worker: about 0.1 ms for a P-256 certificate on OpenSSL 3.0) and then reused
// until the least recently used ones make room. Bounded by a number of certificates
// (ssl.cert_cache_size); a material that is freed (a reload replaced it) leaves at once.
//
// One cache for the process, shared by every snapshot: a certificate a reload kept stays
// warm. Sharded: a worker holds one shard's lock for a hash lookup and a list splice.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "tls/cert_material.h"

namespace tlsgate::tls {

class ParsedCertCache {
 public:
  static ParsedCertCache& instance();

  struct Lookup {
    std::shared_ptr<const LiveCert> cert;  // null: the material does not parse (logged)
    bool hit = false;
  };
  Lookup get(const CertMaterial& material);

  // Certificates kept at most (>= 1); shrinking evicts at the next insertion (a change of
  // the number of shards empties the cache).
  void setCapacity(size_t certificates);
  size_t capacity() const { return capacity_.load(std::memory_order_relaxed); }
  size_t size() const;
  void forget(uint64_t materialId);  // the material is gone
  void clear();                      // tests

 private:
  static constexpr size_t kShards = 16;
  using Entry = std::pair<uint64_t, std::shared_ptr<const LiveCert>>;
  struct Shard {
    mutable std::mutex mutex;
    std::list<Entry> lru;  // most recent first
    std::unordered_map<uint64_t, std::list<Entry>::iterator> index;
  };

  // A small capacity uses as many shards as it holds certificates, so that it is exact.
  Shard& shardOf(uint64_t id) { return shards_[id % shardsInUse_.load(std::memory_order_relaxed)]; }

  std::array<Shard, kShards> shards_;
  std::atomic<size_t> capacity_{10000};
  std::atomic<size_t> shardsInUse_{kShards};
};

}  // namespace tlsgate::tls
