// The reactor: timers in deadline order, cancellation, and post() from other threads.
#include "core/reactor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tlsgate {
namespace {

using namespace std::chrono_literals;

struct Recorder : TimerHandler {
  Recorder(std::vector<int>& log, int id) : log_(log), id_(id), timer(this) {}
  void onTimer() override { log_.push_back(id_); }
  std::vector<int>& log_;
  int id_;
  Timer timer;
};

// Runs the loop until `duration` has passed.
void runFor(Reactor& reactor, Clock::duration duration) {
  struct Stop : TimerHandler {
    explicit Stop(Reactor& r) : reactor(r) {}
    void onTimer() override { reactor.stop(); }
    Reactor& reactor;
  } stop(reactor);
  Timer stopTimer(&stop);
  reactor.arm(stopTimer, duration);
  reactor.run();
}

TEST(ReactorTest, TimersFireInDeadlineOrderAndCancelledOnesDoNot) {
  Reactor reactor;
  std::vector<int> fired;
  Recorder a(fired, 1), b(fired, 2), c(fired, 3), d(fired, 4);
  reactor.arm(c.timer, 30ms);
  reactor.arm(a.timer, 10ms);
  reactor.arm(b.timer, 20ms);
  reactor.arm(d.timer, 15ms);
  reactor.cancel(d.timer);
  EXPECT_FALSE(d.timer.armed());
  runFor(reactor, 60ms);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(a.timer.armed());
}

TEST(ReactorTest, RearmingMovesTheDeadline) {
  Reactor reactor;
  std::vector<int> fired;
  Recorder a(fired, 1), b(fired, 2);
  reactor.arm(a.timer, 10ms);
  reactor.arm(b.timer, 20ms);
  reactor.arm(a.timer, 40ms);  // now after b
  runFor(reactor, 60ms);
  EXPECT_EQ(fired, (std::vector<int>{2, 1}));
}

TEST(ReactorTest, PostedTasksRunOnTheLoopThreadInOrder) {
  Reactor reactor;
  std::vector<int> order;
  std::atomic<bool> onLoop{true};
  std::thread loop([&] { reactor.run(); });
  std::thread poster([&] {
    for (int i = 0; i < 1000; ++i)
      reactor.post([&, i] {
        if (!reactor.inLoopThread()) onLoop = false;
        order.push_back(i);
      });
    reactor.stop();
  });
  poster.join();
  loop.join();
  ASSERT_EQ(order.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(order[i], i);
  EXPECT_TRUE(onLoop);
}

TEST(ReactorTest, DisposedObjectsDieAfterTheBatch) {
  Reactor reactor;
  static int alive = 0;
  struct Thing : Disposable {
    Thing() { ++alive; }
    ~Thing() override { --alive; }
  };
  std::thread loop([&] { reactor.run(); });
  reactor.post([&] {
    reactor.dispose(std::make_unique<Thing>());
    EXPECT_EQ(alive, 1);  // still alive inside the batch that disposed it
  });
  reactor.stop();
  loop.join();
  EXPECT_EQ(alive, 0);
}

}  // namespace
}  // namespace tlsgate
