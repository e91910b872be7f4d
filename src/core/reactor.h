// Reactor: one epoll event loop, owned by one thread (DESIGN principle 1).
//
// Everything registered with a reactor — fds, timers — is touched only from its thread.
// Other threads talk to it through post(), which queues a task and wakes the loop with an
// eventfd. File descriptors are registered edge-triggered: a handler must consume readiness
// until EAGAIN, and is woken again only by a new edge.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/fd.h"

namespace tlsgate {

using Clock = std::chrono::steady_clock;

// Receives readiness for one registered fd. `events` is the EPOLL* mask.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void onEvents(uint32_t events) = 0;
};

class TimerHandler {
 public:
  virtual ~TimerHandler() = default;
  virtual void onTimer() = 0;
};

// A one-shot timer, embedded in its owner. The owner must cancel it (or let it fire)
// before it is destroyed; the destructor asserts that.
class Timer {
 public:
  explicit Timer(TimerHandler* handler) : handler_(handler) {}
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  bool armed() const { return index_ != kNotArmed; }
  Clock::time_point deadline() const { return deadline_; }

 private:
  friend class Reactor;
  static constexpr size_t kNotArmed = ~size_t{0};
  TimerHandler* handler_;
  Clock::time_point deadline_{};
  size_t index_ = kNotArmed;  // position in the reactor's heap
};

// Something the loop destroys after the current batch of events, so that a handler can
// ask for its own destruction from inside one of its callbacks.
class Disposable {
 public:
  virtual ~Disposable() = default;
};

class Reactor {
 public:
  Reactor();
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // fd registration, edge-triggered (EPOLLET is added) unless `levelTriggered`.
  void add(int fd, uint32_t events, EventHandler* handler, bool levelTriggered = false);
  void modify(int fd, uint32_t events, EventHandler* handler);
  void remove(int fd);

  // Timers: arm (or re-arm) to fire `after` from the loop's current time.
  void arm(Timer& timer, Clock::duration after);
  void cancel(Timer& timer);

  // Thread-safe: run `task` on this reactor's thread, soon.
  void post(std::function<void()> task);

  // Destroys `object` after the current batch of events.
  void dispose(std::unique_ptr<Disposable> object);

  // Runs until stop(); binds the reactor to the calling thread.
  void run();
  // Thread-safe: makes run() return after the current iteration.
  void stop();

  bool inLoopThread() const { return std::this_thread::get_id() == thread_; }
  // The loop's clock, read once per iteration.
  Clock::time_point now() const { return now_; }

 private:
  void runTasks();
  void runTimers();
  int waitTimeoutMs() const;
  void heapUp(size_t i);
  void heapDown(size_t i);
  void heapSwap(size_t a, size_t b);

  Fd epoll_;
  Fd wake_;  // eventfd
  std::unique_ptr<EventHandler> wakeHandler_;
  std::thread::id thread_;
  Clock::time_point now_;
  bool stopping_ = false;

  std::vector<Timer*> heap_;  // binary min-heap on deadline
  std::vector<std::unique_ptr<Disposable>> graveyard_;

  std::mutex tasksMutex_;
  std::vector<std::function<void()>> tasks_;  // guarded by tasksMutex_
  bool wakePending_ = false;                  // guarded by tasksMutex_
  std::vector<std::function<void()>> running_;
};

}  // namespace tlsgate
