#include "core/reactor.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/log.h"

namespace tlsgate {

namespace {

// Registration failures mean a programming error (bad fd, double add): fail loudly.
void checkCtl(int rc, const char* what) {
  if (rc != 0) {
    log::error("epoll_ctl(%s): %s", what, std::strerror(errno));
    std::abort();
  }
}

// The eventfd's handler: drains the counter. Tasks themselves run in runTasks().
class WakeHandler final : public EventHandler {
 public:
  explicit WakeHandler(int fd) : fd_(fd) {}
  void onEvents(uint32_t) override {
    uint64_t v;
    while (::read(fd_, &v, sizeof v) > 0) {
    }
  }

 private:
  int fd_;
};

}  // namespace

Timer::~Timer() {
  assert(!armed() && "timer destroyed while armed");
}

Reactor::Reactor()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      thread_(std::this_thread::get_id()),
      now_(Clock::now()) {
  if (!epoll_.valid() || !wake_.valid()) {
    log::error("cannot create reactor: %s", std::strerror(errno));
    std::abort();
  }
  static_assert(sizeof(void*) <= sizeof(epoll_data_t));
  wakeHandler_ = std::make_unique<WakeHandler>(wake_.get());
  add(wake_.get(), EPOLLIN, wakeHandler_.get());
}

Reactor::~Reactor() {
  graveyard_.clear();
  for (Timer* t : heap_) t->index_ = Timer::kNotArmed;
}

void Reactor::add(int fd, uint32_t events, EventHandler* handler, bool levelTriggered) {
  epoll_event ev{};
  ev.events = levelTriggered ? events : events | EPOLLET;
  ev.data.ptr = handler;
  checkCtl(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev), "add");
}

void Reactor::modify(int fd, uint32_t events, EventHandler* handler) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = handler;
  checkCtl(::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev), "mod");
}

void Reactor::remove(int fd) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void Reactor::arm(Timer& timer, Clock::duration after) {
  assert(inLoopThread());
  timer.deadline_ = now_ + after;
  if (timer.armed()) {
    heapUp(timer.index_);
    heapDown(timer.index_);
    return;
  }
  timer.index_ = heap_.size();
  heap_.push_back(&timer);
  heapUp(timer.index_);
}

void Reactor::cancel(Timer& timer) {
  if (!timer.armed()) return;
  size_t i = timer.index_;
  heapSwap(i, heap_.size() - 1);
  heap_.pop_back();
  timer.index_ = Timer::kNotArmed;
  if (i < heap_.size()) {
    heapUp(i);
    heapDown(i);
  }
}

void Reactor::heapSwap(size_t a, size_t b) {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->index_ = a;
  heap_[b]->index_ = b;
}

void Reactor::heapUp(size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline_ <= heap_[i]->deadline_) break;
    heapSwap(i, parent);
    i = parent;
  }
}

void Reactor::heapDown(size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_.size() && heap_[l]->deadline_ < heap_[m]->deadline_) m = l;
    if (r < heap_.size() && heap_[r]->deadline_ < heap_[m]->deadline_) m = r;
    if (m == i) return;
    heapSwap(i, m);
    i = m;
  }
}

void Reactor::post(std::function<void()> task) {
  bool wake;
  {
    std::lock_guard lock(tasksMutex_);
    tasks_.push_back(std::move(task));
    wake = !wakePending_;
    wakePending_ = true;
  }
  if (wake) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  }
}

void Reactor::dispose(std::unique_ptr<Disposable> object) {
  graveyard_.push_back(std::move(object));
}

void Reactor::stop() {
  post([this] { stopping_ = true; });
}

void Reactor::runTasks() {
  {
    std::lock_guard lock(tasksMutex_);
    running_.swap(tasks_);
    wakePending_ = false;
  }
  for (auto& task : running_) task();
  running_.clear();
}

void Reactor::runTimers() {
  while (!heap_.empty() && heap_.front()->deadline_ <= now_) {
    Timer* t = heap_.front();
    cancel(*t);
    t->handler_->onTimer();
  }
}

int Reactor::waitTimeoutMs() const {
  if (!graveyard_.empty()) return 0;
  if (heap_.empty()) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(heap_.front()->deadline_ - now_);
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

void Reactor::run() {
  thread_ = std::this_thread::get_id();
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (!stopping_) {
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, waitTimeoutMs());
    now_ = Clock::now();
    if (n < 0 && errno != EINTR) {
      log::error("epoll_wait: %s", std::strerror(errno));
      std::abort();
    }
    for (int i = 0; i < n; ++i)
      static_cast<EventHandler*>(events[i].data.ptr)->onEvents(events[i].events);
    runTimers();
    runTasks();
    graveyard_.clear();
  }
}

}  // namespace tlsgate
