// TicketKeyRedisSync: keeps a TicketKeyStore in step with a key ring shared by a fleet of
// tlsgate instances through Redis (ssl.server.ticket_key.redis), so that a session ticket
// issued by one instance resumes on any other.
//
// One background thread per process; the handshake path never waits for it (it only reads
// the store, which this thread publishes to).
//
// Redis holds, under the configured prefix (default "tlsgate:stek:"):
//   <prefix>ring   the shared ring, one binary string (ticket_key_schedule.h), read with one
//                  GET and replaced with one SET inside WATCH/MULTI/EXEC, so it is always
//                  read whole and two writers never clobber each other.
//   <prefix>lease  the id of the instance allowed to write the ring, taken with
//                  SET NX PX (it expires by itself when its holder dies).
//
// Every poll_interval each instance GETs the ring and publishes the working ring when it
// changed; it also wakes exactly when a pending key activates, to republish then. Only when
// the ring needs a change (a next key is due, an old key is past retention, or the ring is
// missing) does an instance take the lease and write it; the next key is written `lead`
// (3 poll intervals) before it activates, so every instance has it before any encrypts
// with it. Keyspace notifications are off in a default Redis, so we poll: one GET per
// second per instance.
//
// Failures (connect, AUTH, timeout, a ring that does not parse) never touch the keys: the
// instance goes on with the ring it has (pending keys still activate on time, so a fleet
// cut off from Redis keeps agreeing), logs one warning per outage and one line at recovery,
// counts ssl_ticket_key_redis_failures per failed attempt, and retries with exponential
// back-off from poll_interval up to 5 s. Connect and command timeouts (1 s) bound how long a
// black-holed Redis can hold the thread.
//
// Starting with Redis down: the instance encrypts with the store's current key (a local
// random one) until Redis answers. Keys this instance held that the fleet's ring does not
// (that local key; or everything, when another instance re-created a ring in a Redis that
// restarted empty) are kept for decryption only, for rotation + ticket lifetime, so no
// ticket this instance issued stops resuming here. When the ring is missing (an empty Redis),
// the lease holder writes the keys it holds, so a fleet that agreed before the restart goes
// on with the same keys.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "stats/counters.h"
#include "tls/redis_connection.h"
#include "tls/ticket_key_schedule.h"
#include "tls/ticket_keys.h"

namespace tlsgate::tls {

struct TicketRedisOptions {
  std::string host;  // name or address of the Redis server
  uint16_t port = 6379;
  std::string keyPrefix = "tlsgate:stek:";
  std::string password;  // sent with AUTH when not empty
  std::chrono::milliseconds pollInterval{1000};
  std::chrono::milliseconds rotation{3'600'000};      // ssl.server.ticket_key.rotation
  std::chrono::milliseconds ticketLifetime{300'000};  // the session timeout
  std::chrono::milliseconds timeout{1000};            // connect and per command

  bool operator==(const TicketRedisOptions&) const = default;
};

class TicketKeyRedisSync {
 public:
  // Makes one attempt right away (so an instance starting next to a live Redis serves the
  // fleet's keys from its first handshake), then starts the thread.
  TicketKeyRedisSync(TicketRedisOptions options, std::shared_ptr<TicketKeyStore> store,
                     stats::CounterBlock& counters);
  ~TicketKeyRedisSync();  // stops the thread promptly
  TicketKeyRedisSync(const TicketKeyRedisSync&) = delete;
  TicketKeyRedisSync& operator=(const TicketKeyRedisSync&) = delete;

  const std::string& instanceId() const { return instanceId_; }
  const std::shared_ptr<TicketKeyStore>& store() const { return store_; }
  const TicketRedisOptions& options() const { return options_; }

 private:
  struct DecryptOnlyKey {
    TicketKey key;
    int64_t dropAtMs = 0;
  };

  void run();
  bool syncOnce();  // false: Redis failed (reason in lastError_)
  bool writeRing(RedisConnection& redis, const SharedRing& ring);
  bool holdLease(RedisConnection& redis);
  void adopt(SharedRing ring, int64_t nowMs);
  void publishIfChanged(int64_t nowMs);
  void noteFailure(const std::string& why);
  void noteSuccess();
  std::chrono::milliseconds nextWait(int64_t nowMs) const;

  const TicketRedisOptions options_;
  const KeySchedule schedule_;
  const std::shared_ptr<TicketKeyStore> store_;
  stats::CounterBlock& counters_;
  const std::string instanceId_;
  const std::string ringKey_, leaseKey_;

  // Only the thread touches these (and the constructor before it starts).
  std::unique_ptr<RedisConnection> connection_;
  SharedRing shared_;
  std::vector<DecryptOnlyKey> decryptOnly_;
  TicketKeyRing published_;
  bool failing_ = false;
  int failuresInRow_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace tlsgate::tls
