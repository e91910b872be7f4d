#include "proxy/worker.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "net/socket.h"
#include "proxy/client_connection.h"

namespace tlsgate::proxy {

class Worker::Listener final : public EventHandler, private TimerHandler {
 public:
  Listener(Worker& worker, Fd fd, const net::Address& bound, size_t index,
           stats::ListenerStats* stats)
      : worker_(worker), fd_(std::move(fd)), bound_(bound), index_(index), stats_(stats) {
    // A listener on a specific address knows every connection's local address without a
    // getsockname() per accept; a wildcard one must ask.
    auto ip = bound.ipBytes();
    wildcard_ = std::all_of(ip.begin(), ip.end(), [](char c) { return c == 0; });
  }
  ~Listener() override {
    if (retry_.armed()) worker_.reactor().cancel(retry_);
  }

  // Accepts a bounded batch per wakeup, then lets the loop serve the connections already
  // in flight: taking all of a burst at once would put thousands of handshakes in flight
  // together (memory, page faults, cache misses) and starve the ones that could finish.
  // The listening socket is level-triggered, so what is left is reported again.
  static constexpr int kAcceptBatch = 16;

  void onEvents(uint32_t) override {
    for (int i = 0; i < kAcceptBatch; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (acceptFailedFor(errno)) continue;  // that connection is gone, not the listener
        pause(errno);
        return;
      }
      if (failures_.inRow) recovered();
      worker_.accepted(Fd(fd), net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len),
                       *this);
    }
  }

  int fd() const { return fd_.get(); }
  bool wildcard() const { return wildcard_; }
  const net::Address& bound() const { return bound_; }
  size_t index() const { return index_; }
  stats::ListenerStats* stats() const { return stats_; }
  void setIndex(size_t index) { index_ = index; }

 private:
  // accept(2) also reports errors of the one pending connection it tried to take (the
  // network errors it lists, ECONNABORTED); the next one may be fine.
  static bool acceptFailedFor(int error) {
    switch (error) {
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
      case ENETDOWN:
      case ENOPROTOOPT:
      case EHOSTDOWN:
      case ENONET:
      case EHOSTUNREACH:
      case EOPNOTSUPP:
      case ENETUNREACH:
        return true;
      default:
        return false;
    }
  }

  // Anything else (EMFILE, ENFILE, ENOBUFS, ENOMEM, ...) will fail again at once: the
  // socket is level-triggered, so retrying at the next wakeup would spin a core. Stop
  // watching it for kAcceptPause (the connections wait in the kernel's accept queue, as
  // with nginx's accept pause). The warnings share one budget of a line per kLogEvery,
  // across episodes: a table that keeps filling as fast as connections close must not turn
  // every close into a "failed" and an "again" line.
  static constexpr auto kAcceptPause = std::chrono::milliseconds(200);
  static constexpr auto kLogEvery = std::chrono::seconds(60);

  void pause(int error) {
    worker_.counters().add(stats::Counter::kAcceptErrors);
    ++failures_.inRow;
    ++failures_.unreported;
    if (mayLog()) {
      log::warning("accept on %s: %s (%llu failures; accepting paused %lld ms after each)",
                   bound_.toString().c_str(), std::strerror(error),
                   static_cast<unsigned long long>(failures_.unreported),
                   static_cast<long long>(kAcceptPause.count()));
      failures_.unreported = 0;
      failures_.reported = true;
    }
    worker_.reactor().remove(fd_.get());
    worker_.reactor().arm(retry_, kAcceptPause);
  }

  void onTimer() override {  // the pause is over: watch the socket again
    worker_.reactor().add(fd_.get(), EPOLLIN, this, /*levelTriggered=*/true);
  }

  // Said only when the failures it ends were (an operator who read "failed" learns it is
  // over); the count of the rest is in accept_errors and the next warning.
  void recovered() {
    if (failures_.reported)
      log::warning("accept on %s: accepting again after %llu failures", bound_.toString().c_str(),
                   static_cast<unsigned long long>(failures_.inRow));
    failures_.inRow = 0;
    failures_.reported = false;
  }

  bool mayLog() {
    Clock::time_point now = worker_.reactor().now();
    if (lastWarning_ != Clock::time_point{} && now - lastWarning_ < kLogEvery) return false;
    lastWarning_ = now;
    return true;
  }

  Worker& worker_;
  Fd fd_;
  net::Address bound_;
  size_t index_;
  stats::ListenerStats* stats_;  // registered once per listener, never freed
  bool wildcard_ = false;
  struct Failures {
    uint64_t inRow = 0;       // since the last accepted connection
    uint64_t unreported = 0;  // since the last warning
    bool reported = false;    // this run of failures was warned about
  } failures_;
  Clock::time_point lastWarning_{};  // of either kind
  Timer retry_{this};
};

Worker::Worker(int id, stats::CounterBlock& counters, std::shared_ptr<const Snapshot> snapshot,
               OriginSessionCache& originSessions)
    : id_(id),
      counters_(counters),
      snapshot_(std::move(snapshot)),
      link_(std::make_shared<hooks::ReactorLink>(reactor_)),
      originSessions_(originSessions) {}

Worker::~Worker() {
  link_->cut();
  shutdownNow();
  if (trimTimer_.armed()) reactor_.cancel(trimTimer_);
  if (shedTimer_.armed()) reactor_.cancel(shedTimer_);
}

void Worker::addListener(Fd fd, const net::Address& bound, size_t index) {
  // The listener's counters, under the address tlsgate.yaml gives (the gateway registered
  // it when it bound the socket; a test's worker registers it here).
  const net::Address& configured = snapshot_->listeners.at(index).address;
  stats::ListenerStats* stats =
      stats::ListenerRegistry::instance().add(configured.toString(), bound.toString());
  listeners_.push_back(std::make_unique<Listener>(*this, std::move(fd), bound, index, stats));
  reactor_.add(listeners_.back()->fd(), EPOLLIN, listeners_.back().get(), /*levelTriggered=*/true);
}

void Worker::adopt(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerPlan> plan) {
  snapshot_ = std::move(snapshot);
  if (draining_) return;  // the listeners are closed for good (the new ones close with `plan`)
  std::vector<std::unique_ptr<Listener>> old = std::move(listeners_);
  listeners_.clear();
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].kept) {
      // Same socket, same accept queue: nobody is refused while the configuration changes.
      listeners_.push_back(std::move(old.at(*plan[i].kept)));
      listeners_.back()->setIndex(i);
    } else {
      addListener(std::move(plan[i].fd), plan[i].bound, i);
    }
  }
  // What is left in `old` was removed from tlsgate.yaml: closing the fd unregisters it.
}

void Worker::run() {
  reactor_.run();
  link_->cut();  // hooks that complete from now on find no reactor (their calls are dropped)
}

void Worker::stop() {
  reactor_.post([this] {
    shutdownNow();
    reactor_.stop();
  });
}

void Worker::drain(std::chrono::seconds timeout) {
  if (draining_) return;
  draining_ = true;
  listeners_.clear();  // new connections are refused from now on
  if (!connections_) {
    reactor_.stop();
    return;
  }
  reactor_.arm(drainTimer_, timeout);
}

void Worker::onTimer() {
  while (connections_) {
    counters_.add(stats::Counter::kDrainClosed);
    connections_->abandon();
  }
  reactor_.stop();
}

void Worker::shutdownNow() {
  if (drainTimer_.armed()) reactor_.cancel(drainTimer_);
  listeners_.clear();  // closing the fds removes them from epoll
  while (connections_) connections_->abandon();
}

void Worker::accepted(Fd fd, const net::Address& peer, const Listener& from) {
  counters_.add(stats::Counter::kConnectionsAccepted);
  counters_.add(stats::Counter::kConnectionsActive);
  net::setNoDelay(fd.get());
  net::Address local = from.wildcard() ? net::localAddress(fd.get()) : from.bound();
  auto* conn = new ClientConnection(*this, std::move(fd), peer, local, snapshot_, from.index(),
                                    from.stats());
  conn->next = connections_;
  if (connections_) connections_->prev = conn;
  connections_ = conn;
  memory_.changed(++live_);
  TG_DEBUG(log::kNet, "accepted %s on %s (worker %d)", peer.toString().c_str(),
           local.toString().c_str(), id_);
  conn->start();
}

void Worker::release(ClientConnection* conn) {
  if (conn->prev)
    conn->prev->next = conn->next;
  else
    connections_ = conn->next;
  if (conn->next) conn->next->prev = conn->prev;
  conn->prev = conn->next = nullptr;
  counters_.sub(stats::Counter::kConnectionsActive);
  if (memory_.changed(--live_) && !trimTimer_.armed()) reactor_.arm(trimTimer_, kTrimDelay);
  reactor_.dispose(std::unique_ptr<Disposable>(conn));
  if (draining_ && !connections_ && drainTimer_.armed()) {
    reactor_.cancel(drainTimer_);
    reactor_.stop();
  }
}

void Worker::handshakeBegins() {
  ++handshaking_;
  counters_.add(stats::Counter::kHandshakesInProgress);
  if (!shedTimer_.armed()) armShedTick();
}

void Worker::handshakeEnds() {
  --handshaking_;
  counters_.sub(stats::Counter::kHandshakesInProgress);
}

void Worker::armShedTick() {
  shedTickDue_ = reactor_.now() + LoadShedder::kTick;
  reactor_.arm(shedTimer_, LoadShedder::kTick);
}

void Worker::sampleLoad() {
  const bool was = shedder_.shedding();
  shedder_.sample(reactor_.now() - shedTickDue_, handshaking_, snapshot_->admission.shed);
  if (shedder_.shedding() != was) {
    if (was)
      counters_.sub(stats::Counter::kSheddingWorkers);
    else
      counters_.add(stats::Counter::kSheddingWorkers);
    TG_DEBUG(log::kNet, "worker %d: %s shedding full handshakes (loop lag %lld us, %u in progress)",
             id_, was ? "stops" : "starts",
             static_cast<long long>(
                 std::chrono::duration_cast<std::chrono::microseconds>(shedder_.loopLag()).count()),
             handshaking_);
  }
  // Idle: no tick until the next handshake (an idle worker does not wake up for nothing).
  if (handshaking_ > 0 || shedder_.shedding()) armShedTick();
}

}  // namespace tlsgate::proxy
