#include "tls/parsed_cert_cache.h"

#include "core/log.h"

namespace tlsgate::tls {

ParsedCertCache& ParsedCertCache::instance() {
  // Never destroyed: materials freed during exit still call forget().
  static ParsedCertCache* cache = new ParsedCertCache();
  return *cache;
}

ParsedCertCache::Lookup ParsedCertCache::get(const CertMaterial& material) {
  Shard& shard = shardOf(material.id);
  {
    std::lock_guard lock(shard.mutex);
    if (auto it = shard.index.find(material.id); it != shard.index.end()) {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
      return {it->second->second, true};
    }
  }
  // Parsed outside the lock: other workers keep using the shard meanwhile.
  auto parsed = parseMaterial(material);
  if (!parsed) {
    log::error("%s", parsed.error().message.c_str());
    return {};
  }
  auto live = std::make_shared<const LiveCert>(std::move(parsed.value()));
  const size_t shards = shardsInUse_.load(std::memory_order_relaxed);
  const size_t perShard = std::max<size_t>(1, (capacity() + shards - 1) / shards);
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.index.find(material.id); it != shard.index.end())
    return {it->second->second, false};  // another worker parsed it meanwhile
  shard.lru.emplace_front(material.id, live);
  shard.index.emplace(material.id, shard.lru.begin());
  while (shard.lru.size() > perShard) {
    shard.index.erase(shard.lru.back().first);
    shard.lru.pop_back();
  }
  return {std::move(live), false};
}

void ParsedCertCache::setCapacity(size_t certificates) {
  certificates = std::max<size_t>(1, certificates);
  capacity_.store(certificates, std::memory_order_relaxed);
  const size_t shards = std::min(kShards, certificates);
  if (shardsInUse_.exchange(shards) != shards) clear();
}

size_t ParsedCertCache::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.lru.size();
  }
  return n;
}

void ParsedCertCache::forget(uint64_t materialId) {
  Shard& shard = shardOf(materialId);
  std::shared_ptr<const LiveCert> dropped;  // freed after the lock is released
  std::lock_guard lock(shard.mutex);
  auto it = shard.index.find(materialId);
  if (it == shard.index.end()) return;
  dropped = std::move(it->second->second);
  shard.lru.erase(it->second);
  shard.index.erase(it);
}

void ParsedCertCache::clear() {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    shard.index.clear();
    shard.lru.clear();
  }
}

}  // namespace tlsgate::tls
