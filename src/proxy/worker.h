// Worker: one thread, one reactor, its own listening sockets and connections, its own
// counters and buffer pool (DESIGN principle 1). Nothing here is shared with another
// worker; other threads reach a worker only through reactor().post().
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "core/buffer_pool.h"
#include "core/fd.h"
#include "core/memory_trim.h"
#include "core/reactor.h"
#include "hooks/reactor_link.h"
#include "net/address.h"
#include "proxy/load_shedder.h"
#include "proxy/origin_session_cache.h"
#include "proxy/snapshot.h"
#include "stats/counters.h"

namespace tlsgate::proxy {

class ClientConnection;

class Worker final : private TimerHandler {
 public:
  // `originSessions` is shared by every worker.
  Worker(int id, stats::CounterBlock& counters, std::shared_ptr<const Snapshot> snapshot,
         OriginSessionCache& originSessions);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Before run(): a listening socket this worker accepts from; `index` is the listener's
  // place in the snapshot's config.listeners (its options).
  void addListener(Fd fd, const net::Address& bound, size_t index);

  // One listener of a new snapshot, at its index in config.listeners: a socket just
  // opened, or (`kept`) the one this worker has at that index of the old snapshot.
  struct ListenerPlan {
    Fd fd;
    net::Address bound;
    std::optional<size_t> kept;
  };
  // S16, on the worker's thread (through reactor().post): new connections use `snapshot`,
  // those in flight keep theirs. The listeners become `plan`; one not kept closes.
  void adopt(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerPlan> plan);

  // Runs the event loop on the calling thread until stop() or the end of a drain.
  void run();
  // Thread-safe: stop accepting, close every connection, return from run().
  void stop();
  // SIGTERM, on the worker's thread (through reactor().post): close the listening sockets
  // now; run() returns when the last connection ends, or after `timeout`, when those left
  // are closed (drain_closed).
  void drain(std::chrono::seconds timeout);

  int id() const { return id_; }
  Reactor& reactor() { return reactor_; }
  stats::CounterBlock& counters() { return counters_; }
  BufferPool& buffers() { return buffers_; }
  OriginSessionCache& originSessions() { return originSessions_; }
  // How plugin threads reach this worker (cut when it stops).
  const std::shared_ptr<hooks::ReactorLink>& link() const { return link_; }

  // Called by a connection that has ended: unlinks it and destroys it after the event batch.
  void release(ClientConnection* conn);

  // Admission control: this worker's handshakes in progress (from the source's admission
  // to the end of the handshake), and its load shedding, sampled every LoadShedder::kTick
  // while there are any.
  void handshakeBegins();
  void handshakeEnds();
  LoadShedder& shedder() { return shedder_; }

 private:
  class Listener;
  void accepted(Fd fd, const net::Address& peer, const Listener& from);
  void shutdownNow();
  void onTimer() override;  // the drain timeout
  // After a burst: a quiet second once the connections fell to a quarter of their peak,
  // then the free memory goes back to the kernel (core/memory_trim.h).
  struct TrimTimer final : TimerHandler {
    explicit TrimTimer(Worker& w) : worker(w) {}
    void onTimer() override { worker.memory_.trim(worker.live_); }
    Worker& worker;
  };
  static constexpr auto kTrimDelay = std::chrono::seconds(1);
  // The shedding tick: how late it fires is the event loop's lag.
  struct ShedTick final : TimerHandler {
    explicit ShedTick(Worker& w) : worker(w) {}
    void onTimer() override { worker.sampleLoad(); }
    Worker& worker;
  };
  void sampleLoad();
  void armShedTick();

  int id_;
  stats::CounterBlock& counters_;
  std::shared_ptr<const Snapshot> snapshot_;
  Reactor reactor_;
  std::shared_ptr<hooks::ReactorLink> link_;
  BufferPool buffers_;
  OriginSessionCache& originSessions_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  ClientConnection* connections_ = nullptr;  // intrusive list head
  size_t live_ = 0;                          // its length
  MemoryTrim memory_;
  TrimTimer trimHandler_{*this};
  Timer trimTimer_{&trimHandler_};
  bool draining_ = false;
  Timer drainTimer_{this};
  uint32_t handshaking_ = 0;
  LoadShedder shedder_;
  ShedTick shedHandler_{*this};
  Timer shedTimer_{&shedHandler_};
  Clock::time_point shedTickDue_{};
};

}  // namespace tlsgate::proxy
