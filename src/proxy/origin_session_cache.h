// OriginSessionCache: resumable TLS sessions towards origins, keyed by origin address, the
// SNI sent and the client identity (the origin context, which holds the client
// certificate), so that repeated connections to an origin resume (a TLS 1.2 session or a
// TLS 1.3 ticket) instead of paying a full handshake — and never under another identity.
//
// Bounded LRU shared by the workers: a session one worker stored serves the next
// connection whichever worker accepts it. A mutex guards it; it is taken once per origin
// handshake and once per session the origin sends, never per byte. The newest session for
// a key replaces the older one.
#pragma once

#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tls/ossl.h"

namespace tlsgate::proxy {

class OriginSessionCache {
 public:
  explicit OriginSessionCache(size_t capacity) : capacity_(capacity) {}

  // `identity`: the originContextId of the origin SSL_CTX the connection uses (which holds
  // its client certificate).
  static std::string keyOf(const std::string& address, const std::string& sni, uint64_t identity);

  // A reference to the session to offer for `key`, or null.
  ossl::UniquePtr<SSL_SESSION> find(const std::string& key);
  void store(const std::string& key, ossl::UniquePtr<SSL_SESSION> session);
  size_t size() const;

 private:
  struct Entry {
    std::string key;
    ossl::UniquePtr<SSL_SESSION> session;
  };
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recent first; guarded by mutex_
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;  // guarded by mutex_
};

}  // namespace tlsgate::proxy
