#include "proxy/origin_session_cache.h"

#include <cstdio>

namespace tlsgate::proxy {

std::string OriginSessionCache::keyOf(const std::string& address, const std::string& sni,
                                      uint64_t identity) {
  return address + '/' + sni + '/' + std::to_string(identity);
}

ossl::UniquePtr<SSL_SESSION> OriginSessionCache::find(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  SSL_SESSION* s = it->second->session.get();
  if (!SSL_SESSION_is_resumable(s)) {
    lru_.erase(it->second);
    map_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  SSL_SESSION_up_ref(s);  // the caller's reference: the entry may be replaced meanwhile
  return ossl::UniquePtr<SSL_SESSION>(s);
}

void OriginSessionCache::store(const std::string& key, ossl::UniquePtr<SSL_SESSION> session) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mutex_);
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

size_t OriginSessionCache::size() const {
  std::lock_guard lock(mutex_);
  return map_.size();
}

}  // namespace tlsgate::proxy
