#include "tls/ticket_keys.h"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

namespace tlsgate::tls {

namespace {

std::atomic<uint64_t> nextStoreId{1};

// The ring this thread used last, and which store and generation it came from. One slot:
// a worker serves one snapshot's store at a time (two briefly around a reload, which then
// costs an uncontended lock per switch).
struct ThreadCache {
  uint64_t storeId = 0;
  uint64_t generation = 0;
  std::shared_ptr<const TicketKeyRing> ring;
};
thread_local ThreadCache threadCache;

}  // namespace

TicketKey::~TicketKey() {
  OPENSSL_cleanse(name.data(), name.size());
  OPENSSL_cleanse(hmacSecret.data(), hmacSecret.size());
  OPENSSL_cleanse(aesKey.data(), aesKey.size());
}

const TicketKey* TicketKeyRing::find(const unsigned char* name16) const {
  for (const TicketKey& k : keys)
    if (std::memcmp(k.name.data(), name16, k.name.size()) == 0) return &k;
  return nullptr;
}

TicketKeyStore::TicketKeyStore(std::shared_ptr<const TicketKeyRing> initial)
    : ring_(std::move(initial)), id_(nextStoreId.fetch_add(1, std::memory_order_relaxed)) {}

void TicketKeyStore::publish(std::shared_ptr<const TicketKeyRing> ring) {
  std::shared_ptr<const TicketKeyRing> old;
  {
    std::lock_guard lock(mutex_);
    old = std::exchange(ring_, std::move(ring));
    // Bumped under the lock, after the ring: a reader that sees the new generation and
    // then takes the lock reads the new ring.
    generation_.fetch_add(1, std::memory_order_release);
  }
  // `old` is released here, outside the lock (its keys are wiped when the last user goes).
}

const TicketKeyRing& TicketKeyStore::current() const {
  ThreadCache& cache = threadCache;
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  if (cache.storeId == id_ && cache.generation == generation && cache.ring) return *cache.ring;
  std::shared_ptr<const TicketKeyRing> ring;
  uint64_t seen = 0;
  {
    std::lock_guard lock(mutex_);
    ring = ring_;
    seen = generation_.load(std::memory_order_relaxed);
  }
  // Assigned outside the lock: the ring it replaces may be the last reference to keys.
  cache.ring = std::move(ring);
  cache.storeId = id_;
  cache.generation = seen;
  return *cache.ring;
}

std::shared_ptr<const TicketKeyRing> TicketKeyStore::snapshot() const {
  std::lock_guard lock(mutex_);
  return ring_;
}

}  // namespace tlsgate::tls
