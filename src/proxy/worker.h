// Worker: one thread, one reactor, its own listening sockets and connections, its own
// counters and buffer pool (DESIGN principle 1). Nothing here is shared with another
// worker; other threads reach a worker only through reactor().post().
#pragma once

#include <memory>
#include <vector>

#include "config/snapshot.h"
#include "core/buffer_pool.h"
#include "core/fd.h"
#include "core/reactor.h"
#include "hooks/reactor_link.h"
#include "net/address.h"
#include "proxy/origin_session_cache.h"
#include "stats/counters.h"

namespace tlsgate::proxy {

class ClientConnection;

class Worker {
 public:
  // `originSessions` is shared by every worker.
  Worker(int id, stats::CounterBlock& counters, std::shared_ptr<const config::Snapshot> snapshot,
         OriginSessionCache& originSessions);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Before run(): a listening socket this worker accepts from; `index` is the listener's
  // place in the snapshot's config.listeners (its options).
  void addListener(Fd fd, const net::Address& bound, size_t index);

  // Runs the event loop on the calling thread until stop().
  void run();
  // Thread-safe: stop accepting, close every connection, return from run().
  void stop();

  int id() const { return id_; }
  Reactor& reactor() { return reactor_; }
  stats::CounterBlock& counters() { return counters_; }
  BufferPool& buffers() { return buffers_; }
  OriginSessionCache& originSessions() { return originSessions_; }
  // How plugin threads reach this worker (cut when it stops).
  const std::shared_ptr<hooks::ReactorLink>& link() const { return link_; }

  // Called by a connection that has ended: unlinks it and destroys it after the event batch.
  void release(ClientConnection* conn);

 private:
  class Listener;
  void accepted(Fd fd, const net::Address& peer, const Listener& from);
  void shutdownNow();

  int id_;
  stats::CounterBlock& counters_;
  std::shared_ptr<const config::Snapshot> snapshot_;
  Reactor reactor_;
  std::shared_ptr<hooks::ReactorLink> link_;
  BufferPool buffers_;
  OriginSessionCache& originSessions_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  ClientConnection* connections_ = nullptr;  // intrusive list head
};

}  // namespace tlsgate::proxy
