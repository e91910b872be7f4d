#include "proxy/origin_session_cache.h"

namespace tlsgate::proxy {

SSL_SESSION* OriginSessionCache::find(const std::string& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  SSL_SESSION* s = it->second->session.get();
  if (!SSL_SESSION_is_resumable(s)) {
    lru_.erase(it->second);
    map_.erase(it);
    return nullptr;
  }
  return s;
}

void OriginSessionCache::store(const std::string& key, ossl::UniquePtr<SSL_SESSION> session) {
  if (capacity_ == 0) return;
  if (auto it = map_.find(key); it != map_.end()) {
    it->second->session = std::move(session);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  if (map_.size() >= capacity_) {
    map_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, std::move(session)});
  map_[key] = lru_.begin();
}

}  // namespace tlsgate::proxy
