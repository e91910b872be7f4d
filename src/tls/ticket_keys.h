// Session ticket encryption keys (STEK): the key ring every server context encrypts and
// decrypts tickets with, and the store that publishes new rings to the workers.
//
// Rings come from a file in ATS's format, from local rotation, or from Redis (a fleet);
// whoever produces them calls TicketKeyStore::publish(). The handshake path only reads:
// current() is one relaxed atomic load when nothing changed (a per-thread cached ring),
// never a lock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace tlsgate::tls {

// One key as in ATS's ticket key file: 16 bytes of name, 16 of HMAC secret, 16 of AES-128
// key (48 bytes). Wiped when destroyed.
struct TicketKey {
  static constexpr size_t kFileSize = 48;
  std::array<unsigned char, 16> name{};
  std::array<unsigned char, 16> hmacSecret{};
  std::array<unsigned char, 16> aesKey{};
  TicketKey() = default;
  TicketKey(const TicketKey&) = default;
  TicketKey& operator=(const TicketKey&) = default;
  ~TicketKey();
};

// An immutable set of keys: keys[0] encrypts new tickets; every key decrypts. A ticket
// decrypted with a key other than keys[0] is renewed.
struct TicketKeyRing {
  std::vector<TicketKey> keys;
  const TicketKey* find(const unsigned char* name16) const;  // nullptr: unknown name
};

class TicketKeyStore {
 public:
  explicit TicketKeyStore(std::shared_ptr<const TicketKeyRing> initial);
  TicketKeyStore(const TicketKeyStore&) = delete;
  TicketKeyStore& operator=(const TicketKeyStore&) = delete;

  // Any thread: replaces the ring. Handshakes that started before keep using the old one.
  void publish(std::shared_ptr<const TicketKeyRing> ring);
  // Any thread, handshake path: the ring to use now. The reference stays valid on this
  // thread until the next call to current() on it.
  const TicketKeyRing& current() const;
  // A copy of the current ring pointer (for tests, admin and producers).
  std::shared_ptr<const TicketKeyRing> snapshot() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const TicketKeyRing> ring_;  // guarded by mutex_
  std::atomic<uint64_t> generation_{1};
  const uint64_t id_;  // tells per-thread caches of different stores apart
};

}  // namespace tlsgate::tls
