#include "tls/ticket_key_source.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "core/log.h"
#include "core/read_file.h"
#include "core/signal_free_thread.h"

namespace tlsgate::tls {

Result<std::shared_ptr<const TicketKeyRing>> parseTicketKeys(std::string_view bytes) {
  if (bytes.empty() || bytes.size() % TicketKey::kFileSize != 0)
    return Error{"", 0,
                 "a ticket key file holds 48-byte keys (16 name, 16 HMAC secret, 16 AES key); "
                 "its size must be a positive multiple of 48, got " +
                     std::to_string(bytes.size()) + " bytes"};
  auto ring = std::make_shared<TicketKeyRing>();
  ring->keys.resize(bytes.size() / TicketKey::kFileSize);
  const char* p = bytes.data();
  for (TicketKey& k : ring->keys) {
    std::memcpy(k.name.data(), p, 16);
    std::memcpy(k.hmacSecret.data(), p + 16, 16);
    std::memcpy(k.aesKey.data(), p + 32, 16);
    p += TicketKey::kFileSize;
  }
  return std::shared_ptr<const TicketKeyRing>(std::move(ring));
}

Result<std::shared_ptr<const TicketKeyRing>> loadTicketKeyFile(const std::string& path) {
  auto bytes = readFile(path, file_limit::kTicketKeys);
  if (!bytes) return bytes.error();
  auto ring = parseTicketKeys(*bytes);
  OPENSSL_cleanse(bytes->data(), bytes->size());  // secrets do not outlive their use
  if (!ring) return Error{"", 0, path + ": " + ring.error().message};
  return ring;
}

TicketKey randomTicketKey() {
  TicketKey k;
  // RAND_bytes fails only when the CSPRNG cannot be seeded: nothing safe to go on with.
  if (RAND_bytes(k.name.data(), k.name.size()) != 1 ||
      RAND_bytes(k.hmacSecret.data(), k.hmacSecret.size()) != 1 ||
      RAND_bytes(k.aesKey.data(), k.aesKey.size()) != 1) {
    log::error("RAND_bytes failed: cannot make a session ticket key");
    std::abort();
  }
  return k;
}

namespace {

size_t keysToKeep(std::chrono::seconds period, std::chrono::seconds lifetime) {
  const auto p = std::max<int64_t>(1, period.count());
  return 1 + static_cast<size_t>((std::max<int64_t>(0, lifetime.count()) + p - 1) / p);
}

std::shared_ptr<const TicketKeyRing> oneRandomKey() {
  auto ring = std::make_shared<TicketKeyRing>();
  ring->keys.push_back(randomTicketKey());
  return ring;
}

}  // namespace

TicketKeyRotation::TicketKeyRotation(std::chrono::seconds period, std::chrono::seconds lifetime,
                                     std::shared_ptr<TicketKeyStore> store)
    : period_(std::max(period, std::chrono::seconds(1))),
      lifetime_(lifetime),
      keep_(keysToKeep(period, lifetime)),
      store_(std::move(store)) {
  thread_ = startSignalFreeThread([this] { run(); });  // may start before main() blocks them
}

TicketKeyRotation::TicketKeyRotation(std::chrono::seconds period, std::chrono::seconds lifetime)
    : TicketKeyRotation(period, lifetime, std::make_shared<TicketKeyStore>(oneRandomKey())) {}

TicketKeyRotation::~TicketKeyRotation() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void TicketKeyRotation::rotate() {
  std::lock_guard rotating(rotateMutex_);
  auto previous = store_->snapshot();
  auto ring = std::make_shared<TicketKeyRing>();
  ring->keys.reserve(keep_);
  ring->keys.push_back(randomTicketKey());
  for (const TicketKey& k : previous->keys) {
    if (ring->keys.size() == keep_) break;
    ring->keys.push_back(k);
  }
  store_->publish(std::move(ring));
}

void TicketKeyRotation::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (wake_.wait_for(lock, period_, [this] { return stopping_; })) return;
    lock.unlock();
    rotate();
    lock.lock();
  }
}

}  // namespace tlsgate::tls
