// The per-worker cache of origin sessions: bounded LRU, newest session per key wins,
// sessions that cannot resume are dropped on lookup.
#include "proxy/origin_session_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tls/client_handshake.h"

namespace tlsgate::proxy {
namespace {

// A resumable session: a session id, a master key and a cipher.
ossl::UniquePtr<SSL_SESSION> session(const char* id) {
  ossl::UniquePtr<SSL_SESSION> s(SSL_SESSION_new());
  SSL_SESSION_set_protocol_version(s.get(), TLS1_3_VERSION);
  static const unsigned char key[48] = {1};
  SSL_SESSION_set1_master_key(s.get(), key, sizeof key);
  ossl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  ossl::UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  SSL_SESSION_set_cipher(
      s.get(), SSL_CIPHER_find(ssl.get(), reinterpret_cast<const unsigned char*>("\x13\x01")));
  SSL_SESSION_set1_id(s.get(), reinterpret_cast<const unsigned char*>(id), std::strlen(id));
  return s;
}

TEST(OriginSessionCache, KeyIsAddressSniAndIdentity) {
  const uint64_t one = 1, two = 2;
  const auto key = OriginSessionCache::keyOf("10.0.0.1:443", "a.test", one);
  EXPECT_EQ(key, OriginSessionCache::keyOf("10.0.0.1:443", "a.test", one));
  EXPECT_NE(key, OriginSessionCache::keyOf("10.0.0.1:443", "", one));
  EXPECT_NE(key, OriginSessionCache::keyOf("10.0.0.2:443", "a.test", one));
  EXPECT_NE(key, OriginSessionCache::keyOf("10.0.0.1:443", "a.test", two))
      << "a session must not be resumed under another client identity";
}

TEST(OriginSessionCache, EveryOriginContextHasItsOwnIdentityEvenAtAReusedAddress) {
  // A context freed by a reload and a new one allocated at the same address must not share
  // sessions: the identity is a number, never reused.
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto ctx = tls::newOriginContext({});
    ASSERT_TRUE(ctx) << ctx.error().message;
    ids.push_back(tls::originContextId(ctx->get()));
  }
  EXPECT_NE(ids[0], 0u);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  EXPECT_NE(ids[0], ids[2]);
}

TEST(OriginSessionCache, NewestSessionPerKeyWins) {
  OriginSessionCache cache(4);
  auto first = session("1");
  auto second = session("2");
  SSL_SESSION* secondPtr = second.get();
  cache.store("k", std::move(first));
  cache.store("k", std::move(second));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find("k").get(), secondPtr);
  EXPECT_EQ(cache.find("other"), nullptr);
}

TEST(OriginSessionCache, EvictsTheLeastRecentlyUsed) {
  OriginSessionCache cache(2);
  cache.store("a", session("a"));
  cache.store("b", session("b"));
  ASSERT_NE(cache.find("a"), nullptr);  // a is now the most recent
  cache.store("c", session("c"));       // evicts b
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.find("a"), nullptr);
  EXPECT_EQ(cache.find("b"), nullptr);
  EXPECT_NE(cache.find("c"), nullptr);
}

TEST(OriginSessionCache, ZeroCapacityKeepsNothing) {
  OriginSessionCache cache(0);
  cache.store("a", session("a"));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.find("a"), nullptr);
}

TEST(OriginSessionCache, UnresumableSessionIsDropped) {
  OriginSessionCache cache(2);
  cache.store("a", ossl::UniquePtr<SSL_SESSION>(SSL_SESSION_new()));  // no key, no cipher
  EXPECT_EQ(cache.find("a"), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace tlsgate::proxy
