// BlindTunnel: bytes between the client socket and a destination, untouched.
//
// Where the tunnel goes is the caller's business: a hook's ip:port (S7, S10), or the
// connection's original destination (S5, S9). The tunnel gets a connected socket.
//
// S10: what the client already sent (the buffered ClientHello, S8, possibly preceded by an
// outbound PROXY header) is replayed to the destination first, with send(); the client →
// destination direction starts once all of it is out. Destination → client starts at once.
//
// Then each direction moves socket → pipe → socket with splice(2), so the bytes never enter
// user space. A direction reads only while its pipe is empty: a slow receiver stops the
// reading from a fast sender (back-pressure, at most one pipe of bytes in flight per
// direction). EOF from one side becomes shutdown(SHUT_WR) on the other once the pipe is
// empty (half-close in each direction); the tunnel is finished when both directions have
// ended, and failed on any socket error (ECONNRESET, EPIPE...).
//
// A pipe is held only while bytes are in flight (net/pipe.h): pump() gives empty pipes back
// to the thread's pool, so an idle tunnel costs its two sockets and nothing more.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "core/fd.h"
#include "net/pipe.h"
#include "net/readiness.h"
#include "proxy/progress.h"
#include "stats/counters.h"
#include "tls/socket_bio.h"

namespace tlsgate::proxy {

class BlindTunnel {
 public:
  // `client` is the connection's socket with its readiness (kept up to date by the owner's
  // epoll events); `replay` = bytes to send to the destination before anything else;
  // `destination` is connected already.
  BlindTunnel(tls::SocketIo& client, Fd destination, std::string replay,
              stats::CounterBlock& counters);
  BlindTunnel(const BlindTunnel&) = delete;
  BlindTunnel& operator=(const BlindTunnel&) = delete;

  // Readiness reported by epoll for the destination socket.
  void destinationReady(uint32_t events) { destination_.update(events); }
  // Moves bytes as far as readiness allows.
  Progress pump();
  // True if bytes moved since the last call (then clears it): the owner's inactivity timer
  // (tunnel.inactivity_timeout) uses it.
  bool takeActivity() { return std::exchange(activity_, false); }
  int destinationFd() const { return destinationFd_.get(); }
  // Bytes delivered so far in each direction (the replay counts towards the destination).
  uint64_t bytesToDestination() const { return toDestination_.delivered; }
  uint64_t bytesToClient() const { return toClient_.delivered; }

 private:
  // Where one direction is: open, its sender hit EOF (flush then end), or ended.
  enum class Flow : uint8_t { kOpen, kDraining, kEnded };
  // What one pass over the replay or a direction did.
  enum class Step : uint8_t { kIdle, kMoved, kFailed };

  struct Direction {
    explicit Direction(stats::Counter c, const char* n) : counter(c), name(n) {}
    net::SplicePipe pipe;
    Flow flow = Flow::kOpen;
    stats::Counter counter;  // bytes delivered
    const char* name;        // for debug lines
    uint64_t delivered = 0;
  };

  Step sendReplay();
  Step pumpDirection(net::Readiness& from, net::Readiness& to, Direction& d);
  Progress pumpAll();

  tls::SocketIo& client_;
  Fd destinationFd_;
  net::Readiness destination_;  // of destinationFd_
  std::string replay_;          // still to send to the destination (S10)
  size_t replayed_ = 0;
  stats::CounterBlock& counters_;
  Direction toDestination_{stats::Counter::kTunnelBytesClientToDestination, "client"};
  Direction toClient_{stats::Counter::kTunnelBytesDestinationToClient, "destination"};
  bool activity_ = false;
};

}  // namespace tlsgate::proxy
