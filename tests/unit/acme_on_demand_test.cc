// The on-demand queue (acme/on_demand.h): one pending order per name, the refused names'
// back-off, the order rate, and the bounds that keep a flood of made-up names from growing
// it without end.
#include "acme/on_demand.h"

#include <gtest/gtest.h>

namespace tlsgate::acme {
namespace {

OnDemandOptions options() {
  OnDemandOptions o;
  o.askUrl = "http://127.0.0.1:1/ask";
  o.ratePerMinute = 2;
  o.backoff = std::chrono::seconds(600);
  return o;
}

TEST(AcmeOnDemandQueue, OneEntryPerNameAnswersEveryWaitingHandshake) {
  int woken = 0, answered = 0;
  OnDemandQueue q(options(), [&] { ++woken; });
  q.request("a.test", [&] { ++answered; });
  q.request("a.test", [&] { ++answered; });
  EXPECT_EQ(woken, 1) << "the second handshake waits on the same order";
  EXPECT_EQ(q.next(), "a.test");
  EXPECT_EQ(q.next(), std::nullopt);
  q.finish("a.test", /*refused=*/true);
  EXPECT_EQ(answered, 2);
  EXPECT_TRUE(q.refused("a.test"));
  EXPECT_FALSE(q.refused("b.test"));
}

TEST(AcmeOnDemandQueue, TheRateCountsOrdersInTheLastMinute) {
  OnDemandQueue q(options(), [] {});
  EXPECT_TRUE(q.takeOrderSlot(1000));
  EXPECT_TRUE(q.takeOrderSlot(1001));
  EXPECT_FALSE(q.takeOrderSlot(1002));
  EXPECT_TRUE(q.takeOrderSlot(1061));
}

TEST(AcmeOnDemandQueue, AFloodOfNamesIsAnsweredAtOnceBeyondTheBound) {
  OnDemandQueue q(options(), [] {});
  int answered = 0;
  for (size_t i = 0; i < OnDemandQueue::kMaxQueued; ++i)
    q.request("n" + std::to_string(i) + ".test", [&] { ++answered; });
  EXPECT_EQ(answered, 0);
  q.request("one-more.test", [&] { ++answered; });
  EXPECT_EQ(answered, 1) << "past the bound: the fallback at once, nothing queued";
  q.request("n0.test", [&] { ++answered; });
  EXPECT_EQ(answered, 1) << "a name already queued still waits for its order";
}

TEST(AcmeOnDemandQueue, RefusedNamesAreBounded) {
  OnDemandQueue q(options(), [] {});
  for (size_t i = 0; i < OnDemandQueue::kMaxRefused + 10; ++i)
    q.finish("r" + std::to_string(i) + ".test", /*refused=*/true);
  EXPECT_TRUE(q.refused("r0.test"));
  EXPECT_FALSE(q.refused("r" + std::to_string(OnDemandQueue::kMaxRefused + 5) + ".test"));
}

}  // namespace
}  // namespace tlsgate::acme
