// The ACME client's fleet state (acme/shared_state.h): the same contract for MemoryState and
// for RedisState against a real redis-server (a typed test), then what only Redis has: the
// key layout, the index pruning, outages, a server that never answers, and AUTH.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <type_traits>

#include "acme/redis_state.h"
#include "acme/shared_state.h"
#include "redis_server.h"

namespace tlsgate::acme {
namespace {

using namespace std::chrono_literals;
using tlsgate::testing::RedisServer;
using tlsgate::testing::waitFor;

RedisStateOptions optionsFor(uint16_t port, const std::string& password = "") {
  RedisStateOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.keyPrefix = "t:";
  o.password = password;
  return o;  // the default 1 s timeouts
}

// Two instances of one fleet.
struct MemoryFleet {
  MemoryState first;
  std::unique_ptr<MemoryState> second = first.anotherInstance();
  SharedState& a() { return first; }
  SharedState& b() { return *second; }
};

struct RedisFleet {
  RedisServer server;
  RedisState first{optionsFor(server.port())};
  RedisState second{optionsFor(server.port())};
  SharedState& a() { return first; }
  SharedState& b() { return second; }
};

bool isTrue(const Result<bool>& r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().toString());
  return r.ok() && *r;
}

SharedChallenge challenge(const std::string& type, const std::string& name,
                          const std::string& token = "") {
  SharedChallenge c;
  c.type = type;
  c.name = name;
  c.token = token;
  return c;
}

SharedChallenge tlsChallenge(const std::string& name) {
  SharedChallenge c = challenge("tls-alpn-01", name);
  c.certPem = "-----BEGIN CERTIFICATE-----\n" + name + "\n-----END CERTIFICATE-----\n";
  c.keyPem = "-----BEGIN PRIVATE KEY-----\n" + name + "\n-----END PRIVATE KEY-----\n";
  return c;
}

SharedChallenge httpChallenge(const std::string& name, const std::string& token) {
  SharedChallenge c = challenge("http-01", name, token);
  c.keyAuthorization = token + ".thumb";
  return c;
}

std::vector<SharedChallenge> pending(SharedState& state) {
  auto all = state.challenges();
  EXPECT_TRUE(all.ok()) << (all.ok() ? "" : all.error().toString());
  if (!all) return {};
  std::sort(all->begin(), all->end(), [](auto& x, auto& y) { return x.name < y.name; });
  return *all;
}

template <class Fleet>
class SharedStateTest : public ::testing::Test {
 protected:
  Fleet fleet;
};

using Fleets = ::testing::Types<MemoryFleet, RedisFleet>;
struct FleetName {
  template <class Fleet>
  static std::string GetName(int) {
    return std::is_same_v<Fleet, MemoryFleet> ? "Memory" : "Redis";
  }
};
TYPED_TEST_SUITE(SharedStateTest, Fleets, FleetName);

TYPED_TEST(SharedStateTest, OnlyOneInstanceHoldsALease) {
  SharedState& a = this->fleet.a();
  SharedState& b = this->fleet.b();
  EXPECT_TRUE(isTrue(a.tryLease("www", 60s)));
  EXPECT_FALSE(isTrue(b.tryLease("www", 60s)));
  EXPECT_TRUE(isTrue(a.tryLease("www", 60s)));  // its holder may take it again
  EXPECT_TRUE(isTrue(b.tryLease("api", 60s)));  // another certificate, another lease
  EXPECT_FALSE(isTrue(b.renewLease("www", 60s)));
  EXPECT_TRUE(isTrue(a.renewLease("www", 60s)));
  ASSERT_TRUE(b.releaseLease("www").ok());  // not b's: still a's
  EXPECT_FALSE(isTrue(b.tryLease("www", 60s)));
  ASSERT_TRUE(a.releaseLease("www").ok());
  EXPECT_TRUE(isTrue(b.tryLease("www", 60s)));
  EXPECT_FALSE(isTrue(a.tryLease("www", 60s)));
  EXPECT_FALSE(isTrue(a.renewLease("www", 60s)));
}

TYPED_TEST(SharedStateTest, LeaseExpiresWhenItsHolderStopsRenewing) {
  SharedState& a = this->fleet.a();
  SharedState& b = this->fleet.b();
  ASSERT_TRUE(isTrue(a.tryLease("www", 300ms)));
  EXPECT_TRUE(waitFor([&] { return isTrue(b.tryLease("www", 60s)); }));
  EXPECT_FALSE(isTrue(a.renewLease("www", 60s)));  // b has it now
}

TYPED_TEST(SharedStateTest, RenewedLeaseOutlivesItsFirstTimeToLive) {
  SharedState& a = this->fleet.a();
  SharedState& b = this->fleet.b();
  ASSERT_TRUE(isTrue(a.tryLease("www", 3s)));
  ASSERT_TRUE(isTrue(a.renewLease("www", 60s)));
  std::this_thread::sleep_for(3500ms);
  EXPECT_FALSE(isTrue(b.tryLease("www", 60s)));
}

TYPED_TEST(SharedStateTest, EveryInstanceSeesThePendingChallenges) {
  SharedState& a = this->fleet.a();
  SharedState& b = this->fleet.b();
  EXPECT_TRUE(pending(b).empty());
  const auto tls = tlsChallenge("a.example");
  const auto http = httpChallenge("b.example", "tok1");
  ASSERT_TRUE(a.putChallenge(tls, 60s).ok());
  ASSERT_TRUE(b.putChallenge(http, 60s).ok());
  EXPECT_EQ(pending(a), (std::vector{tls, http}));
  EXPECT_EQ(pending(b), (std::vector{tls, http}));

  auto renewed = tlsChallenge("a.example");  // same name: replaces the older one
  renewed.certPem = "another certificate";
  ASSERT_TRUE(a.putChallenge(renewed, 60s).ok());
  EXPECT_EQ(pending(b), (std::vector{renewed, http}));

  ASSERT_TRUE(b.removeChallenge(renewed).ok());  // any instance may remove it
  EXPECT_EQ(pending(a), (std::vector{http}));
  ASSERT_TRUE(a.removeChallenge(http).ok());
  EXPECT_TRUE(pending(b).empty());
}

TYPED_TEST(SharedStateTest, ChallengeExpiresByItself) {
  SharedState& a = this->fleet.a();
  const auto kept = httpChallenge("b.example", "kept");
  ASSERT_TRUE(a.putChallenge(tlsChallenge("a.example"), 300ms).ok());
  ASSERT_TRUE(a.putChallenge(kept, 60s).ok());
  EXPECT_TRUE(waitFor([&] { return pending(this->fleet.b()) == std::vector{kept}; }));
}

TYPED_TEST(SharedStateTest, RejectsAChallengeItCannotLookUp) {
  SharedState& a = this->fleet.a();
  EXPECT_FALSE(a.putChallenge(challenge("dns-01", "a.example", "tok"), 60s).ok());
  EXPECT_FALSE(a.putChallenge(httpChallenge("a.example", ""), 60s).ok());  // no token
  EXPECT_FALSE(a.putChallenge(challenge("tls-alpn-01", ""), 60s).ok());    // no name
  EXPECT_FALSE(a.putChallenge(tlsChallenge("a.example"), 0ms).ok());
  EXPECT_FALSE(a.tryLease("www", 0ms).ok());
  EXPECT_TRUE(pending(a).empty());
}

TYPED_TEST(SharedStateTest, CertificatesAreSharedAndReplacedWhole) {
  SharedState& a = this->fleet.a();
  SharedState& b = this->fleet.b();
  auto none = b.certificate("www");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  const SharedCertificate first{"www", "chain 1\nline 2\n", "key 1\n"};
  ASSERT_TRUE(a.putCertificate(first).ok());
  auto got = b.certificate("www");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, first);
  const SharedCertificate second{"www", "chain 2\n", "key 2\n"};
  ASSERT_TRUE(b.putCertificate(second).ok());
  got = a.certificate("www");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, second);
  got = a.certificate("api");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TYPED_TEST(SharedStateTest, TheFirstAccountKeyWins) {
  SharedState& a = this->fleet.a();
  SharedState& b = this->fleet.b();
  auto none = a.accountKeyPem();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(isTrue(a.putAccountKeyPemIfAbsent("key of a\n")));
  EXPECT_FALSE(isTrue(b.putAccountKeyPemIfAbsent("key of b\n")));
  auto got = b.accountKeyPem();
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, "key of a\n");
}

// What only Redis has.

std::string redisText(const RedisServer& server, const std::vector<std::string>& command,
                      const std::string& password = "") {
  auto r = server.command(command, password);
  if (!r) return "(no answer)";
  if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
  if (r->type == REDIS_REPLY_NIL) return "(nil)";
  return std::string(r->str, r->len);
}

TEST(AcmeRedisState, KeysLiveUnderThePrefixAsDocumented) {
  RedisServer server;
  RedisState state(optionsFor(server.port()));
  ASSERT_TRUE(isTrue(state.tryLease("www", 60s)));
  ASSERT_TRUE(state.putChallenge(tlsChallenge("a.example"), 60s).ok());
  ASSERT_TRUE(state.putChallenge(httpChallenge("b.example", "tok"), 60s).ok());
  ASSERT_TRUE(state.putCertificate({"www", "chain\n", "key\n"}).ok());
  ASSERT_TRUE(isTrue(state.putAccountKeyPemIfAbsent("account\n")));

  EXPECT_EQ(redisText(server, {"GET", "t:lease:www"}), state.instanceId());
  EXPECT_EQ(redisText(server, {"HGET", "t:challenge:tls:a.example", "cert"}),
            tlsChallenge("a.example").certPem);
  EXPECT_EQ(redisText(server, {"HGET", "t:challenge:http:tok", "keyAuthorization"}), "tok.thumb");
  const auto ttl = std::stoll(redisText(server, {"PTTL", "t:challenge:http:tok"}));
  EXPECT_GT(ttl, 0);  // Redis expires it
  EXPECT_LE(ttl, 60'000);
  EXPECT_EQ(redisText(server, {"SCARD", "t:challenges"}), "2");
  EXPECT_EQ(redisText(server, {"HGET", "t:cert:www", "key"}), "key\n");
  EXPECT_GT(std::stoll(redisText(server, {"HGET", "t:cert:www", "updated"})), 1'700'000'000'000);
  EXPECT_EQ(redisText(server, {"GET", "t:account"}), "account\n");

  // Another prefix is another fleet.
  auto other = optionsFor(server.port());
  other.keyPrefix = "u:";
  RedisState stranger(other);
  EXPECT_TRUE(isTrue(stranger.tryLease("www", 60s)));
  EXPECT_TRUE(pending(stranger).empty());
}

TEST(AcmeRedisState, ReadingChallengesPrunesTheExpiredOnesFromTheIndex) {
  RedisServer server;
  RedisState state(optionsFor(server.port()));
  ASSERT_TRUE(state.putChallenge(httpChallenge("a.example", "gone"), 200ms).ok());
  ASSERT_TRUE(state.putChallenge(httpChallenge("b.example", "kept"), 60s).ok());
  auto expired = [&] { return redisText(server, {"EXISTS", "t:challenge:http:gone"}) == "0"; };
  ASSERT_TRUE(waitFor(expired));
  EXPECT_EQ(redisText(server, {"SISMEMBER", "t:challenges", "http:gone"}), "1");  // until read
  EXPECT_EQ(pending(state), (std::vector{httpChallenge("b.example", "kept")}));
  EXPECT_EQ(redisText(server, {"SISMEMBER", "t:challenges", "http:gone"}), "0");
  EXPECT_EQ(redisText(server, {"SISMEMBER", "t:challenges", "http:kept"}), "1");
}

// Every method once, each call's duration checked: an error, never a hang.
void expectEveryCallFailsWithin(SharedState& state, std::chrono::seconds limit) {
  const SharedCertificate certificate{"www", "c", "k"};
  const std::vector<std::pair<const char*, std::function<bool()>>> calls = {
      {"tryLease", [&] { return state.tryLease("www", 60s).ok(); }},
      {"renewLease", [&] { return state.renewLease("www", 60s).ok(); }},
      {"releaseLease", [&] { return state.releaseLease("www").ok(); }},
      {"putChallenge", [&] { return state.putChallenge(tlsChallenge("a.example"), 60s).ok(); }},
      {"removeChallenge", [&] { return state.removeChallenge(tlsChallenge("a.example")).ok(); }},
      {"challenges", [&] { return state.challenges().ok(); }},
      {"putCertificate", [&] { return state.putCertificate(certificate).ok(); }},
      {"certificate", [&] { return state.certificate("www").ok(); }},
      {"accountKeyPem", [&] { return state.accountKeyPem().ok(); }},
      {"putAccountKeyPemIfAbsent", [&] { return state.putAccountKeyPemIfAbsent("k").ok(); }},
  };
  for (const auto& [name, call] : calls) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(call()) << name;
    EXPECT_LT(std::chrono::steady_clock::now() - start, limit) << name;
  }
}

TEST(AcmeRedisState, RedisDownGivesErrorsThenTheNextCallReconnects) {
  RedisServer server;
  RedisState state(optionsFor(server.port()));
  ASSERT_TRUE(isTrue(state.tryLease("www", 60s)));  // connected
  server.stop();
  expectEveryCallFailsWithin(state, 3s);
  auto failed = state.accountKeyPem();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("127.0.0.1:" + std::to_string(server.port())),
            std::string::npos)
      << failed.error().message;
  server.start();  // empty again: no persistence
  EXPECT_TRUE(isTrue(state.tryLease("www", 60s)));
  EXPECT_TRUE(state.putChallenge(tlsChallenge("a.example"), 60s).ok());
}

TEST(AcmeRedisState, AServerThatNeverAnswersTimesOut) {
  // A listening socket nobody accepts from: connect succeeds (the kernel's backlog), the
  // command never gets a reply.
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 64), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  RedisState state(optionsFor(ntohs(address.sin_port)));
  expectEveryCallFailsWithin(state, 3s);
  close(listener);
}

TEST(AcmeRedisState, AuthenticatesWithThePassword) {
  RedisServer server({"--requirepass", "s3cret"});
  RedisState withPassword(optionsFor(server.port(), "s3cret"));
  EXPECT_TRUE(isTrue(withPassword.putAccountKeyPemIfAbsent("account\n")));
  EXPECT_EQ(redisText(server, {"GET", "t:account"}, "s3cret"), "account\n");

  RedisState wrongPassword(optionsFor(server.port(), "guess"));
  auto refused = wrongPassword.accountKeyPem();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("AUTH"), std::string::npos) << refused.error().message;
  RedisState noPassword(optionsFor(server.port()));
  EXPECT_FALSE(noPassword.accountKeyPem().ok());
  EXPECT_FALSE(noPassword.tryLease("www", 60s).ok());
}

}  // namespace
}  // namespace tlsgate::acme
