// OriginSessionCache: resumable TLS sessions towards origins, per worker, keyed by origin
// address and the SNI sent, so that repeated connections to an origin resume (a TLS 1.2
// session or a TLS 1.3 ticket) instead of paying a full handshake.
//
// Bounded LRU; one per worker thread, so no lock. The newest session for a key replaces
// the older one.
#pragma once

#include <list>
#include <string>
#include <unordered_map>

#include "tls/ossl.h"

namespace tlsgate::proxy {

class OriginSessionCache {
 public:
  explicit OriginSessionCache(size_t capacity) : capacity_(capacity) {}

  static std::string keyOf(const std::string& address, const std::string& sni) {
    return address + '/' + sni;
  }

  // A session to offer for `key` (still owned by the cache), or null.
  SSL_SESSION* find(const std::string& key);
  void store(const std::string& key, ossl::UniquePtr<SSL_SESSION> session);
  size_t size() const { return map_.size(); }

 private:
  struct Entry {
    std::string key;
    ossl::UniquePtr<SSL_SESSION> session;
  };
  size_t capacity_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
};

}  // namespace tlsgate::proxy
