// The session ticket key ring, its store (one lock-free read per handshake), ATS's key file
// format and the in-process rotation.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "tls/ticket_key_source.h"
#include "tls/ticket_keys.h"

namespace tlsgate::tls {
namespace {

std::string keyBytes(unsigned char seed, size_t count) {
  std::string bytes;
  for (size_t i = 0; i < count * TicketKey::kFileSize; ++i)
    bytes.push_back(static_cast<char>(seed + i));
  return bytes;
}

std::shared_ptr<const TicketKeyRing> ringOf(std::initializer_list<unsigned char> names) {
  auto ring = std::make_shared<TicketKeyRing>();
  for (unsigned char n : names) {
    TicketKey k;
    k.name.fill(n);
    k.hmacSecret.fill(static_cast<unsigned char>(n + 1));
    k.aesKey.fill(static_cast<unsigned char>(n + 2));
    ring->keys.push_back(k);
  }
  return ring;
}

TEST(TicketKeyFile, ParsesNameSecretAndKeyInFileOrder) {
  auto ring = parseTicketKeys(keyBytes(0, 2));
  ASSERT_TRUE(ring) << ring.error().message;
  ASSERT_EQ((*ring)->keys.size(), 2u);
  const TicketKey& first = (*ring)->keys[0];
  EXPECT_EQ(first.name[0], 0);
  EXPECT_EQ(first.hmacSecret[0], 16);
  EXPECT_EQ(first.aesKey[15], 47);
  EXPECT_EQ((*ring)->keys[1].name[0], 48);  // the second key starts at byte 48
}

TEST(TicketKeyFile, RefusesASizeThatIsNotAPositiveMultipleOf48) {
  for (size_t size : {0, 1, 47, 49, 95}) {
    auto ring = parseTicketKeys(std::string(size, 'x'));
    ASSERT_FALSE(ring) << size;
    EXPECT_NE(ring.error().message.find("multiple of 48"), std::string::npos);
    EXPECT_NE(ring.error().message.find("got " + std::to_string(size) + " bytes"),
              std::string::npos);
  }
}

TEST(TicketKeyFile, LoadNamesTheFileInErrors) {
  auto path = std::filesystem::temp_directory_path() / "tlsgate_ticket_key_test.key";
  std::ofstream(path, std::ios::binary) << std::string(50, 'k');
  auto ring = loadTicketKeyFile(path.string());
  ASSERT_FALSE(ring);
  EXPECT_NE(ring.error().message.find(path.string() + ": "), std::string::npos);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << keyBytes(7, 3);
  auto ok = loadTicketKeyFile(path.string());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ((*ok)->keys.size(), 3u);
  std::filesystem::remove(path);
  EXPECT_FALSE(loadTicketKeyFile(path.string()));
}

TEST(TicketKeyRing, FindsEveryKeyByNameAndNothingElse) {
  auto ring = ringOf({1, 2, 3});
  unsigned char name[16];
  std::memset(name, 2, sizeof name);
  ASSERT_NE(ring->find(name), nullptr);
  EXPECT_EQ(ring->find(name), &ring->keys[1]);
  std::memset(name, 9, sizeof name);
  EXPECT_EQ(ring->find(name), nullptr);
}

TEST(TicketKey, IsWipedWhenDestroyed) {
  alignas(TicketKey) unsigned char storage[sizeof(TicketKey)];
  auto* k = new (storage) TicketKey();
  k->aesKey.fill(0xab);
  k->hmacSecret.fill(0xcd);
  k->~TicketKey();
  for (unsigned char b : storage) EXPECT_EQ(b, 0);
}

TEST(TicketKeyStore, CurrentSeesEveryPublish) {
  TicketKeyStore store(ringOf({1}));
  EXPECT_EQ(store.current().keys[0].name[0], 1);
  const uint64_t g = store.generation();
  store.publish(ringOf({2, 1}));
  EXPECT_GT(store.generation(), g);
  EXPECT_EQ(store.current().keys[0].name[0], 2);
  EXPECT_EQ(store.snapshot()->keys.size(), 2u);
}

TEST(TicketKeyStore, PerThreadCacheTellsStoresApart) {
  TicketKeyStore a(ringOf({1}));
  TicketKeyStore b(ringOf({2}));
  // Both stores are at generation 1: only the store id keeps the cache from mixing them.
  EXPECT_EQ(a.current().keys[0].name[0], 1);
  EXPECT_EQ(b.current().keys[0].name[0], 2);
  EXPECT_EQ(a.current().keys[0].name[0], 1);
}

TEST(TicketKeyStore, ConcurrentPublishAndCurrent) {
  // Run under TSan by the sanitizer build: readers on four threads, one publisher.
  TicketKeyStore store(ringOf({0}));
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      unsigned last = 0;
      while (!done.load(std::memory_order_relaxed)) {
        const TicketKeyRing& ring = store.current();
        ASSERT_FALSE(ring.keys.empty());
        // Every ring published has the same byte throughout each key, and names only go up.
        const unsigned name = ring.keys[0].name[0];
        ASSERT_EQ(ring.keys[0].name[15], name);
        ASSERT_EQ(ring.keys[0].aesKey[0], static_cast<unsigned char>(name + 2));
        ASSERT_GE(name, last);
        last = name;
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  for (unsigned char n = 1; n < 200; ++n) {
    store.publish(ringOf({n, static_cast<unsigned char>(n - 1)}));
    if (n % 20 == 0) std::this_thread::yield();
  }
  while (reads.load() < 1000) std::this_thread::yield();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(store.current().keys[0].name[0], 199);
}

TEST(TicketKeyRotation, NewKeyFirstOldKeysKeptForTheTicketLifetime) {
  // A ticket lives 2 h after its key stops encrypting; with a key per hour, 3 keys are kept.
  TicketKeyRotation rotation(std::chrono::hours(1), std::chrono::hours(2));
  EXPECT_EQ(rotation.keep(), 3u);
  auto first = rotation.store()->snapshot();
  ASSERT_EQ(first->keys.size(), 1u);
  rotation.rotate();
  auto second = rotation.store()->snapshot();
  ASSERT_EQ(second->keys.size(), 2u);
  EXPECT_NE(second->keys[0].name, first->keys[0].name);
  EXPECT_EQ(second->keys[1].name, first->keys[0].name);  // still decrypts old tickets
  rotation.rotate();
  rotation.rotate();
  auto fourth = rotation.store()->snapshot();
  ASSERT_EQ(fourth->keys.size(), 3u);
  EXPECT_EQ(fourth->find(first->keys[0].name.data()), nullptr);  // past its lifetime
  EXPECT_NE(fourth->find(second->keys[0].name.data()), nullptr);
}

TEST(TicketKeyRotation, TheThreadRotatesEveryPeriod) {
  TicketKeyRotation rotation(std::chrono::seconds(1), std::chrono::seconds(5));
  const uint64_t g = rotation.store()->generation();
  for (int i = 0; i < 400 && rotation.store()->generation() == g; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GT(rotation.store()->generation(), g);
}

}  // namespace
}  // namespace tlsgate::tls
