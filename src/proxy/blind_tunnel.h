// BlindTunnel: bytes between the client socket and a destination, untouched (S10's tunnel).
//
// What the client already sent (the buffered ClientHello, S8) is replayed to the
// destination first. Both sides are plain sockets: each direction has one borrowed chunk,
// half-close passes through (EOF on one side becomes shutdown(SHUT_WR) on the other), and
// the tunnel ends when both directions have. The zero-copy splice() relay of the routing
// issue replaces the copy through user space.
#pragma once

#include <cstdint>
#include <string>

#include "core/buffer_pool.h"
#include "core/fd.h"
#include "net/readiness.h"
#include "proxy/progress.h"
#include "stats/counters.h"
#include "tls/socket_bio.h"

namespace tlsgate::proxy {

class BlindTunnel {
 public:
  BlindTunnel(tls::SocketIo& client, Fd destination, std::string replay, BufferPool& pool);
  BlindTunnel(tls::SocketIo& client, Fd destination, std::string replay, stats::CounterBlock&)
      : BlindTunnel(client, std::move(destination), std::move(replay), tempPool()) {}
  static BufferPool& tempPool() { static thread_local BufferPool p; return p; }
  bool takeActivity() { return true; }
  ~BlindTunnel();

  void destinationReady(uint32_t events) { destination_.update(events); }
  Progress pump();

 private:
  enum class Flow : uint8_t { kOpen, kDraining, kEnded };

  // Moves one direction; false when nothing moved. `failed` on a socket error.
  bool pumpDirection(net::Readiness& from, net::Readiness& to, Chunk& chunk, Flow& flow,
                     bool& failed);
  bool flushReplay(bool& failed);

  tls::SocketIo& client_;  // the connection's, readiness kept up to date by its events
  Fd destinationFd_;
  net::Readiness destination_;  // of destinationFd_
  std::string replay_;          // ClientHello bytes still to send to the destination
  size_t replayed_ = 0;
  BufferPool& pool_;
  Chunk toDestination_;
  Chunk toClient_;
  Flow clientFlow_ = Flow::kOpen;
  Flow destinationFlow_ = Flow::kOpen;
};

}  // namespace tlsgate::proxy
