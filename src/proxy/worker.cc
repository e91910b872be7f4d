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

class Worker::Listener final : public EventHandler {
 public:
  Listener(Worker& worker, Fd fd, const net::Address& bound, size_t index,
           stats::ListenerStats* stats)
      : worker_(worker), fd_(std::move(fd)), bound_(bound), index_(index), stats_(stats) {
    // A listener on a specific address knows every connection's local address without a
    // getsockname() per accept; a wildcard one must ask.
    auto ip = bound.ipBytes();
    wildcard_ = std::all_of(ip.begin(), ip.end(), [](char c) { return c == 0; });
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
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          log::warning("accept on %s: %s", bound_.toString().c_str(), std::strerror(errno));
        return;
      }
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
  Worker& worker_;
  Fd fd_;
  net::Address bound_;
  size_t index_;
  stats::ListenerStats* stats_;  // registered once per listener, never freed
  bool wildcard_ = false;
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
  reactor_.dispose(std::unique_ptr<Disposable>(conn));
  if (draining_ && !connections_ && drainTimer_.armed()) {
    reactor_.cancel(drainTimer_);
    reactor_.stop();
  }
}

}  // namespace tlsgate::proxy
