// The fleet's shared ticket key ring: its Redis encoding and the rules that pick the
// encrypting key, add the next one ahead of time and prune old ones.
#include "tls/ticket_key_schedule.h"

#include <gtest/gtest.h>

namespace tlsgate::tls {
namespace {

TicketKey keyNamed(unsigned char n) {
  TicketKey k;
  k.name.fill(n);
  k.hmacSecret.fill(static_cast<unsigned char>(n + 1));
  k.aesKey.fill(static_cast<unsigned char>(n + 2));
  return k;
}

// Keys named 1, 2, ... activating at the given times.
SharedRing ringAt(std::initializer_list<int64_t> activations) {
  SharedRing ring;
  unsigned char n = 1;
  for (int64_t a : activations) ring.push_back({keyNamed(n++), a});
  return ring;
}

std::vector<int> names(const TicketKeyRing& ring) {
  std::vector<int> out;
  for (const auto& k : ring.keys) out.push_back(k.name[0]);
  return out;
}

const KeySchedule kSchedule{.rotationMs = 1000, .lifetimeMs = 500, .leadMs = 300};

TEST(SharedRingCodec, RoundTrips) {
  const SharedRing ring = ringAt({1'700'000'000'000, 1'700'000'001'000, -5});
  auto back = decodeSharedRing(encodeSharedRing(ring));
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), 3u);
  // Sorted by activation on the way in.
  EXPECT_EQ((*back)[0].activationMs, -5);
  EXPECT_EQ((*back)[0].key.name[0], 3);
  EXPECT_TRUE(sameKey((*back)[1].key, ring[0].key));
  EXPECT_EQ((*back)[2].activationMs, 1'700'000'001'000);
}

TEST(SharedRingCodec, EmptyRingRoundTrips) {
  auto back = decodeSharedRing(encodeSharedRing({}));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->empty());
}

TEST(SharedRingCodec, ReadsLaterFormatsWithLargerEntries) {
  // A later version appends 4 bytes to each entry: we read the first 56 of each.
  std::string bytes = encodeSharedRing(ringAt({10, 20}));
  bytes[4] = 2;       // format
  bytes[5] = 56 + 4;  // entry size
  std::string grown = bytes.substr(0, 8);
  for (int i = 0; i < 2; ++i) grown += bytes.substr(8 + i * 56, 56) + "xxxx";
  auto back = decodeSharedRing(grown);
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].activationMs, 20);
  EXPECT_EQ((*back)[1].key.name[0], 2);
}

TEST(SharedRingCodec, RefusesWhatItCannotRead) {
  EXPECT_FALSE(decodeSharedRing(""));
  EXPECT_FALSE(decodeSharedRing("hello world, not a ring"));
  std::string truncated = encodeSharedRing(ringAt({10, 20}));
  truncated.pop_back();
  EXPECT_NE(decodeSharedRing(truncated).error().message.find("does not hold 2 entries"),
            std::string::npos);
  std::string small = encodeSharedRing(ringAt({10}));
  small[5] = 40;  // entries too small to hold a key
  EXPECT_FALSE(decodeSharedRing(small));
  SharedRing twice = ringAt({10, 20});
  twice[1].key = twice[0].key;
  EXPECT_NE(decodeSharedRing(encodeSharedRing(twice)).error().message.find("twice"),
            std::string::npos);
}

TEST(WorkingRing, EncryptsWithNewestActivatedThenPendingThenOlder) {
  const SharedRing ring = ringAt({0, 1000, 2000, 3000});
  EXPECT_EQ(names(workingRing(ring, 2500, {})), (std::vector<int>{3, 4, 2, 1}));
  EXPECT_EQ(names(workingRing(ring, 3000, {})), (std::vector<int>{4, 3, 2, 1}));
  // Nothing activated yet: the oldest key encrypts.
  EXPECT_EQ(names(workingRing(ring, -1, {})), (std::vector<int>{1, 2, 3, 4}));
}

TEST(WorkingRing, AppendsDecryptOnlyKeysOnce) {
  const SharedRing ring = ringAt({0, 1000});
  EXPECT_EQ(names(workingRing(ring, 500, {keyNamed(9), keyNamed(2)})), (std::vector<int>{1, 2, 9}));
  EXPECT_EQ(names(workingRing({}, 500, {keyNamed(9)})), (std::vector<int>{9}));
}

TEST(PruneSharedRing, KeepsSupersededKeysForRotationPlusLifetime) {
  const SharedRing ring = ringAt({0, 1000, 2000});
  // Key 1 was superseded at 1000; retention 1500 → kept through 2500.
  EXPECT_EQ(pruneSharedRing(ring, 2500, kSchedule).size(), 3u);
  auto pruned = pruneSharedRing(ring, 2501, kSchedule);
  ASSERT_EQ(pruned.size(), 2u);
  EXPECT_EQ(pruned[0].key.name[0], 2);
  // The encrypting key is never pruned, however old.
  EXPECT_EQ(pruneSharedRing(ringAt({0}), 1'000'000, kSchedule).size(), 1u);
}

TEST(NextKeyActivation, AddsTheNextKeyLeadBeforeItIsDue) {
  const SharedRing ring = ringAt({0});
  EXPECT_FALSE(nextKeyActivation(ring, 699, kSchedule));
  EXPECT_EQ(nextKeyActivation(ring, 700, kSchedule), 1000);
  // A pending key exists: nothing to add.
  EXPECT_FALSE(nextKeyActivation(ringAt({0, 1000}), 900, kSchedule));
  // Late (e.g. Redis was away): the key still activates only lead after it is written.
  EXPECT_EQ(nextKeyActivation(ring, 5000, kSchedule), 5300);
  EXPECT_EQ(nextKeyActivation({}, 5000, kSchedule), 5300);
}

TEST(NextActivationAfter, IsTheNextPendingActivation) {
  const SharedRing ring = ringAt({0, 1000, 2000});
  EXPECT_EQ(nextActivationAfter(ring, 500), 1000);
  EXPECT_EQ(nextActivationAfter(ring, 1000), 2000);
  EXPECT_FALSE(nextActivationAfter(ring, 2000));
}

}  // namespace
}  // namespace tlsgate::tls
