// Where session ticket key rings come from, besides Redis: ATS's key file, and random keys
// made and rotated inside the process.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/result.h"
#include "tls/ticket_keys.h"

namespace tlsgate::tls {

// parseTicketKeys reads ATS's ticket key file format: N x 48 bytes (16 name, 16 HMAC secret,
// 16 AES-128 key), N >= 1; the first key encrypts, every key decrypts. The error says what
// is wrong with the size (the caller adds which file).
Result<std::shared_ptr<const TicketKeyRing>> parseTicketKeys(std::string_view bytes);

// loadTicketKeyFile reads and parses `path`; the bytes read are wiped before returning.
Result<std::shared_ptr<const TicketKeyRing>> loadTicketKeyFile(const std::string& path);

// randomTicketKey is a fresh key from OpenSSL's CSPRNG (name included).
TicketKey randomTicketKey();

// TicketKeyRotation owns a store of random keys and a thread that, every `period`, puts a
// new key in front and drops keys nobody can hold a valid ticket for any more: a ticket
// lives `lifetime` after its key stopped encrypting, so 1 + ceil(lifetime / period) keys
// are kept. The handshake path never waits for it (it only reads the store).
class TicketKeyRotation {
 public:
  // Rotates the keys of `store` (which serves its current ring until the first rotation).
  TicketKeyRotation(std::chrono::seconds period, std::chrono::seconds lifetime,
                    std::shared_ptr<TicketKeyStore> store);
  // The same with a store of its own, holding one random key to begin with.
  TicketKeyRotation(std::chrono::seconds period, std::chrono::seconds lifetime);
  ~TicketKeyRotation();  // stops the thread (it wakes at once)
  TicketKeyRotation(const TicketKeyRotation&) = delete;
  TicketKeyRotation& operator=(const TicketKeyRotation&) = delete;

  const std::shared_ptr<TicketKeyStore>& store() const { return store_; }
  std::chrono::seconds period() const { return period_; }
  std::chrono::seconds lifetime() const { return lifetime_; }
  size_t keep() const { return keep_; }

  // Publishes a new ring at once (the thread calls it; tests too).
  void rotate();

 private:
  void run();

  const std::chrono::seconds period_;
  const std::chrono::seconds lifetime_;
  const size_t keep_;
  std::shared_ptr<TicketKeyStore> store_;
  std::mutex rotateMutex_;  // one rotation at a time (the thread, a test)
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace tlsgate::tls
