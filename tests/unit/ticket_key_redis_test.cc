// TicketKeyRedisSync against a real redis-server: instances sharing a ring converge, the
// lease decides who writes, the next key reaches every instance before it encrypts, and a
// Redis outage (or a first start without Redis) never takes keys away.
#include "tls/ticket_key_redis.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>
#include <thread>

#include "redis_server.h"
#include "tls/ticket_key_source.h"

namespace tlsgate::tls {
namespace {

using namespace std::chrono_literals;
using stats::Counter;
using tlsgate::testing::RedisServer;
using tlsgate::testing::waitFor;

TicketRedisOptions optionsFor(const RedisServer& redis, const std::string& prefix = "t:") {
  TicketRedisOptions o;
  o.host = "127.0.0.1";
  o.port = redis.port();
  o.keyPrefix = prefix;
  o.pollInterval = 100ms;  // lead: 300 ms
  o.rotation = 1500ms;
  o.ticketLifetime = 1000ms;
  o.timeout = 500ms;
  return o;
}

std::shared_ptr<TicketKeyStore> newStore() {
  auto ring = std::make_shared<TicketKeyRing>();
  ring->keys.push_back(randomTicketKey());
  return std::make_shared<TicketKeyStore>(ring);
}

TicketKey encrypting(const TicketKeyStore& store) {
  return store.snapshot()->keys.at(0);
}

bool holds(const TicketKeyStore& store, const TicketKey& key) {
  return store.snapshot()->find(key.name.data()) != nullptr;
}

bool sameEncrypting(const TicketKeyStore& a, const TicketKeyStore& b) {
  return encrypting(a).name == encrypting(b).name;
}

SharedRing ringInRedis(const RedisServer& redis, const std::string& prefix = "t:") {
  auto r = redis.command({"GET", prefix + "ring"});
  if (!r || r->type != REDIS_REPLY_STRING) return {};
  auto ring = decodeSharedRing(std::string_view(r->str, r->len));
  return ring ? *ring : SharedRing{};
}

bool ringMatches(const RedisServer& redis, const TicketKeyStore& store) {
  auto ring = ringInRedis(redis);
  return !ring.empty() &&
         std::all_of(ring.begin(), ring.end(), [&](auto& e) { return holds(store, e.key); });
}

size_t countOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// For `span`, keeps checking that each store's encrypting key is held by the other; returns
// how many different encrypting keys were seen.
size_t watchBothAgree(const TicketKeyStore& a, const TicketKeyStore& b,
                      std::chrono::milliseconds span) {
  std::set<std::array<unsigned char, 16>> seen;
  const auto end = std::chrono::steady_clock::now() + span;
  while (std::chrono::steady_clock::now() < end) {
    const TicketKey ea = encrypting(a), eb = encrypting(b);
    EXPECT_TRUE(holds(b, ea)) << "a encrypts with a key b does not have";
    EXPECT_TRUE(holds(a, eb)) << "b encrypts with a key a does not have";
    seen.insert(ea.name);
    seen.insert(eb.name);
    std::this_thread::sleep_for(2ms);
  }
  return seen.size();
}

TEST(TicketKeyRedis, TwoInstancesConvergeOnTheRingInRedis) {
  RedisServer redis;
  stats::CounterBlock ca, cb;
  auto a = newStore(), b = newStore();
  TicketKeyRedisSync sa(optionsFor(redis), a, ca);
  TicketKeyRedisSync sb(optionsFor(redis), b, cb);
  ASSERT_TRUE(waitFor([&] { return sameEncrypting(*a, *b) && ringMatches(redis, *a); }));
  EXPECT_TRUE(ringMatches(redis, *b));
  // The instance that did not write the ring took it from Redis.
  EXPECT_GE(
      ca.get(Counter::kSslTicketKeyRedisRefreshes) + cb.get(Counter::kSslTicketKeyRedisRefreshes),
      1u);
  EXPECT_EQ(ca.get(Counter::kSslTicketKeyRedisFailures), 0u);
  EXPECT_EQ(cb.get(Counter::kSslTicketKeyRedisFailures), 0u);
}

TEST(TicketKeyRedis, NextKeyReachesEveryInstanceBeforeItEncrypts) {
  RedisServer redis;
  stats::CounterBlock ca, cb;
  auto a = newStore(), b = newStore();
  TicketKeyRedisSync sa(optionsFor(redis), a, ca);
  TicketKeyRedisSync sb(optionsFor(redis), b, cb);
  ASSERT_TRUE(waitFor([&] { return sameEncrypting(*a, *b); }));
  // About three rotations: each new encrypting key must already be on the other instance.
  EXPECT_GE(watchBothAgree(*a, *b, 4500ms), 3u);
}

TEST(TicketKeyRedis, OnlyTheLeaseHolderWritesTheRing) {
  RedisServer redis;
  redis.command({"SET", "t:lease", "someone-else", "PX", "60000"});
  stats::CounterBlock ca, cb;
  auto a = newStore(), b = newStore();
  auto sa = std::make_unique<TicketKeyRedisSync>(optionsFor(redis), a, ca);
  auto sb = std::make_unique<TicketKeyRedisSync>(optionsFor(redis), b, cb);
  // Ten polls each: nobody but the holder may create the ring.
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(ringInRedis(redis).empty());
  EXPECT_FALSE(sameEncrypting(*a, *b));
  redis.command({"DEL", "t:lease"});
  ASSERT_TRUE(waitFor([&] { return sameEncrypting(*a, *b) && ringMatches(redis, *a); }));
  auto lease = redis.command({"GET", "t:lease"});
  ASSERT_TRUE(lease && lease->type == REDIS_REPLY_STRING);
  const std::string holder(lease->str, lease->len);
  EXPECT_TRUE(holder == sa->instanceId() || holder == sb->instanceId()) << holder;
  // Through rotations the ring never holds more than one pending key.
  const auto end = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < end) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto ring = ringInRedis(redis);
    EXPECT_LE(std::count_if(ring.begin(), ring.end(),
                            [now](auto& e) { return e.activationMs > now + 50; }),
              1);
    std::this_thread::sleep_for(20ms);
  }
}

TEST(TicketKeyRedis, OutageKeepsTheKeysAndRecoveryConverges) {
  RedisServer redis;
  stats::CounterBlock ca, cb;
  auto a = newStore(), b = newStore();
  TicketKeyRedisSync sa(optionsFor(redis), a, ca);
  TicketKeyRedisSync sb(optionsFor(redis), b, cb);
  ASSERT_TRUE(waitFor([&] { return sameEncrypting(*a, *b) && ringMatches(redis, *a); }));

  ::testing::internal::CaptureStderr();
  redis.stop();
  EXPECT_TRUE(waitFor([&] {
    return ca.get(Counter::kSslTicketKeyRedisFailures) >= 3 &&
           cb.get(Counter::kSslTicketKeyRedisFailures) >= 3;
  }));
  const TicketKey beforeRestart = encrypting(*a);
  // More than a rotation without Redis: both keep encrypting with keys the other holds.
  watchBothAgree(*a, *b, 2s);

  redis.start();  // empty: the lease holder writes the keys it has
  const bool converged = waitFor(
      [&] { return sameEncrypting(*a, *b) && ringMatches(redis, *a) && ringMatches(redis, *b); });
  // Let both log their recovery.
  std::this_thread::sleep_for(300ms);
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(converged);
  EXPECT_TRUE(holds(*a, beforeRestart));
  EXPECT_TRUE(holds(*b, beforeRestart));
  EXPECT_EQ(countOf(log, "keeping the"), 2u) << log;  // one warning per instance
  EXPECT_EQ(countOf(log, "answers again"), 2u) << log;
  // A rotation after recovery is seen by both.
  ASSERT_TRUE(waitFor([&] { return encrypting(*a).name != beforeRestart.name; }));
  EXPECT_GE(watchBothAgree(*a, *b, 2s), 1u);
}

TEST(TicketKeyRedis, StartsWithoutRedisThenJoinsTheFleetKeepingItsOwnKeys) {
  RedisServer redis;
  redis.stop();
  stats::CounterBlock ca, cb;
  auto a = newStore(), b = newStore();
  const TicketKey localA = encrypting(*a), localB = encrypting(*b);
  TicketKeyRedisSync sa(optionsFor(redis), a, ca);
  TicketKeyRedisSync sb(optionsFor(redis), b, cb);
  EXPECT_GE(ca.get(Counter::kSslTicketKeyRedisFailures), 1u);
  EXPECT_EQ(encrypting(*a).name, localA.name);  // serving with its local key meanwhile
  redis.start();
  ASSERT_TRUE(waitFor([&] { return sameEncrypting(*a, *b) && ringMatches(redis, *a); }));
  // Tickets issued with the local keys still resume where they were issued.
  EXPECT_TRUE(holds(*a, localA));
  EXPECT_TRUE(holds(*b, localB));
}

TEST(TicketKeyRedis, AnotherPrefixIsAnotherFleet) {
  RedisServer redis;
  stats::CounterBlock ca, cb;
  auto a = newStore(), b = newStore();
  TicketKeyRedisSync sa(optionsFor(redis, "fleet-a:"), a, ca);
  TicketKeyRedisSync sb(optionsFor(redis, "fleet-b:"), b, cb);
  ASSERT_TRUE(waitFor([&] {
    return !ringInRedis(redis, "fleet-a:").empty() && !ringInRedis(redis, "fleet-b:").empty();
  }));
  for (const auto& e : ringInRedis(redis, "fleet-a:")) EXPECT_FALSE(holds(*b, e.key));
  EXPECT_FALSE(sameEncrypting(*a, *b));
}

TEST(TicketKeyRedis, AuthenticatesWithThePassword) {
  RedisServer redis({"--requirepass", "s3cret"});
  stats::CounterBlock wrongCounters, rightCounters;
  auto wrong = newStore(), right = newStore();
  auto wrongOptions = optionsFor(redis);
  wrongOptions.password = "guess";
  TicketKeyRedisSync sw(wrongOptions, wrong, wrongCounters);
  EXPECT_GE(wrongCounters.get(Counter::kSslTicketKeyRedisFailures), 1u);
  auto rightOptions = optionsFor(redis);
  rightOptions.password = "s3cret";
  TicketKeyRedisSync sr(rightOptions, right, rightCounters);
  EXPECT_EQ(rightCounters.get(Counter::kSslTicketKeyRedisFailures), 0u);
  auto r = redis.command({"GET", "t:ring"}, "s3cret");
  ASSERT_TRUE(r && r->type == REDIS_REPLY_STRING);
  EXPECT_FALSE(holds(*wrong, decodeSharedRing(std::string_view(r->str, r->len))->at(0).key));
}

TEST(TicketKeyRedis, StopsWithoutWaitingForTheNextPoll) {
  RedisServer redis;
  stats::CounterBlock counters;
  auto options = optionsFor(redis);
  options.pollInterval = 60s;
  options.rotation = 3600s;
  auto sync = std::make_unique<TicketKeyRedisSync>(options, newStore(), counters);
  std::this_thread::sleep_for(50ms);  // the thread is waiting now
  const auto start = std::chrono::steady_clock::now();
  sync.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

}  // namespace
}  // namespace tlsgate::tls
