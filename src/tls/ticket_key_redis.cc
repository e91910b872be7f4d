#include "tls/ticket_key_redis.h"

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <string_view>

#include "core/log.h"
#include "core/signal_free_thread.h"
#include "tls/ticket_key_source.h"

namespace tlsgate::tls {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kMaxBackoff{5000};

int64_t unixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Wipes an encoded ring when it goes out of scope.
struct WipedString {
  std::string bytes;
  ~WipedString() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

}  // namespace

TicketKeyRedisSync::TicketKeyRedisSync(TicketRedisOptions options,
                                       std::shared_ptr<TicketKeyStore> store,
                                       stats::CounterBlock& counters)
    : options_(std::move(options)),
      schedule_{.rotationMs = options_.rotation.count(),
                .lifetimeMs = options_.ticketLifetime.count(),
                .leadMs = 3 * options_.pollInterval.count()},
      store_(std::move(store)),
      counters_(counters),
      instanceId_(makeRedisInstanceId()),
      ringKey_(options_.keyPrefix + "ring"),
      leaseKey_(options_.keyPrefix + "lease") {
  // Until Redis says otherwise, the store's current key is this instance's schedule and its
  // other keys are kept for decryption.
  const int64_t now = unixNowMs();
  const auto initial = store_->snapshot();
  if (!initial || initial->keys.empty()) {
    shared_.push_back({randomTicketKey(), now});
  } else {
    shared_.push_back({initial->keys[0], now});
    for (size_t i = 1; i < initial->keys.size(); ++i)
      decryptOnly_.push_back({initial->keys[i], now + schedule_.retentionMs()});
  }
  if (initial) published_ = *initial;
  if (syncOnce()) {
    log::info("ticket keys: shared through Redis %s:%u as %s", options_.host.c_str(), options_.port,
              instanceId_.c_str());
  } else {
    log::warning("ticket keys: encrypting with a local key until Redis %s:%u answers",
                 options_.host.c_str(), options_.port);
  }
  publishIfChanged(unixNowMs());
  thread_ = startSignalFreeThread([this] { run(); });  // started while the snapshot is built
}

TicketKeyRedisSync::~TicketKeyRedisSync() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void TicketKeyRedisSync::run() {
  auto nextPoll = Clock::now() + nextWait(unixNowMs());
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // Wake for the next poll, or earlier when a pending key activates, to publish it then.
    auto wakeAt = nextPoll;
    const int64_t now = unixNowMs();
    if (auto act = nextActivationAfter(shared_, now))
      wakeAt = std::min(wakeAt, Clock::now() + std::chrono::milliseconds(*act - now + 1));
    if (wake_.wait_until(lock, wakeAt, [this] { return stopping_; })) break;
    lock.unlock();
    if (Clock::now() >= nextPoll) {
      syncOnce();
      nextPoll = Clock::now() + nextWait(unixNowMs());
    }
    publishIfChanged(unixNowMs());
    lock.lock();
  }
}

std::chrono::milliseconds TicketKeyRedisSync::nextWait(int64_t) const {
  if (!failing_) return options_.pollInterval;
  auto wait = options_.pollInterval;
  for (int i = 1; i < failuresInRow_ && wait < kMaxBackoff; ++i) wait *= 2;
  return std::min(wait, std::max(kMaxBackoff, options_.pollInterval));
}

// One round: read the ring, adopt it, and when it needs a change and we hold the lease,
// write it. The ring is WATCHed from the read to the write, so a ring another instance
// wrote meanwhile makes our EXEC fail instead of being overwritten.
bool TicketKeyRedisSync::syncOnce() {
  std::string error;
  if (!connection_)
    connection_ = RedisConnection::open(options_.host, options_.port, options_.password,
                                        options_.timeout, error);
  if (!connection_) {
    noteFailure(error);
    return false;
  }
  RedisConnection& redis = *connection_;
  RedisReply got;
  if (!redis.run({"WATCH", ringKey_}, error) || !(got = redis.run({"GET", ringKey_}, error))) {
    noteFailure(error);
    return false;
  }
  SharedRing remote;
  if (got->type == REDIS_REPLY_STRING) {
    auto decoded = decodeSharedRing(std::string_view(got->str, got->len));
    if (!decoded) {
      redis.run({"UNWATCH"}, error);
      noteFailure(ringKey_ + ": " + decoded.error().message);
      return false;
    }
    remote = std::move(*decoded);
  }
  got.reset();
  const int64_t now = unixNowMs();
  if (!remote.empty()) adopt(remote, now);

  // An empty Redis (restarted, flushed, first instance ever) gets the keys we hold.
  SharedRing desired = pruneSharedRing(remote.empty() ? shared_ : remote, now, schedule_);
  if (auto activation = nextKeyActivation(desired, now, schedule_))
    desired.push_back({randomTicketKey(), *activation});
  if (sameRing(desired, remote) || !holdLease(redis)) {
    if (!redis.run({"UNWATCH"}, error)) {
      noteFailure(error);
      return false;
    }
  } else if (!writeRing(redis, desired)) {
    return false;
  }
  noteSuccess();
  return true;
}

// The lease: SET NX PX takes it when free; the holder renews it. Another instance's lease
// means it writes, not us.
bool TicketKeyRedisSync::holdLease(RedisConnection& redis) {
  std::string error;
  const auto ttl = std::to_string(std::max<int64_t>(5 * options_.pollInterval.count(), 2000));
  auto set = redis.run({"SET", leaseKey_, instanceId_, "NX", "PX", ttl}, error);
  if (set && set->type == REDIS_REPLY_STATUS) return true;
  auto holder = redis.run({"GET", leaseKey_}, error);
  if (!holder || holder->type != REDIS_REPLY_STRING ||
      std::string_view(holder->str, holder->len) != instanceId_)
    return false;
  redis.run({"PEXPIRE", leaseKey_, ttl}, error);
  return true;
}

// MULTI/SET/EXEC under the WATCH of syncOnce(). A nil EXEC means the ring changed since we
// read it: nothing written, the next poll reads the new one.
bool TicketKeyRedisSync::writeRing(RedisConnection& redis, const SharedRing& ring) {
  std::string error;
  WipedString bytes{encodeSharedRing(ring)};
  if (!redis.run({"MULTI"}, error) || !redis.run({"SET", ringKey_, bytes.bytes}, error)) {
    noteFailure(error);
    return false;
  }
  auto exec = redis.run({"EXEC"}, error);
  if (!exec) {
    noteFailure(error);
    return false;
  }
  if (exec->type == REDIS_REPLY_ARRAY) {
    adopt(ring, unixNowMs());
    log::info("ticket keys: %s wrote the ring (keys: %zu, the newest activates in %lld ms)",
              instanceId_.c_str(), ring.size(),
              static_cast<long long>(ring.back().activationMs - unixNowMs()));
  }
  noteSuccess();
  return true;
}

// Takes `ring` as the fleet's. Keys we held that it lacks stay for decryption only, for
// rotation + ticket lifetime: tickets we issued with them keep resuming here.
void TicketKeyRedisSync::adopt(SharedRing ring, int64_t nowMs) {
  if (sameRing(ring, shared_)) return;
  auto inRing = [&ring](const TicketKey& key) {
    return std::any_of(ring.begin(), ring.end(),
                       [&key](const ScheduledKey& e) { return e.key.name == key.name; });
  };
  for (auto& old : pruneSharedRing(std::move(shared_), nowMs, schedule_))
    if (!inRing(old.key)) decryptOnly_.push_back({old.key, nowMs + schedule_.retentionMs()});
  std::erase_if(decryptOnly_, [&](const DecryptOnlyKey& k) { return inRing(k.key); });
  shared_ = std::move(ring);
  counters_.add(stats::Counter::kSslTicketKeyRedisRefreshes);
}

void TicketKeyRedisSync::publishIfChanged(int64_t nowMs) {
  std::erase_if(decryptOnly_, [nowMs](const DecryptOnlyKey& k) { return k.dropAtMs <= nowMs; });
  std::vector<TicketKey> extra;
  for (const auto& k : decryptOnly_) extra.push_back(k.key);
  TicketKeyRing ring = workingRing(pruneSharedRing(shared_, nowMs, schedule_), nowMs, extra);
  if (sameKeys(ring, published_)) return;
  published_ = ring;
  store_->publish(std::make_shared<const TicketKeyRing>(std::move(ring)));
}

void TicketKeyRedisSync::noteFailure(const std::string& why) {
  connection_.reset();
  counters_.add(stats::Counter::kSslTicketKeyRedisFailures);
  ++failuresInRow_;
  if (failing_) return;
  failing_ = true;
  log::warning("ticket keys: Redis %s:%u: %s; keeping the %zu keys we have, retrying",
               options_.host.c_str(), options_.port, why.c_str(), published_.keys.size());
}

void TicketKeyRedisSync::noteSuccess() {
  failuresInRow_ = 0;
  if (!failing_) return;
  failing_ = false;
  log::info("ticket keys: Redis %s:%u answers again", options_.host.c_str(), options_.port);
}

}  // namespace tlsgate::tls
