#include "proxy/blind_tunnel.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "net/socket.h"

namespace tlsgate::proxy {

using stats::Counter;

BlindTunnel::BlindTunnel(tls::SocketIo& client, Fd destination, std::string replay,
                         stats::CounterBlock& counters)
    : client_(client),
      destinationFd_(std::move(destination)),
      replay_(std::move(replay)),
      counters_(counters) {
  destination_.fd = destinationFd_.get();
}

Progress BlindTunnel::pump() {
  Progress progress = pumpAll();
  // Whatever happened, empty pipes go back to the thread's pool: only a direction whose
  // receiver is full keeps one.
  toDestination_.pipe.release();
  toClient_.pipe.release();
  return progress;
}

Progress BlindTunnel::pumpAll() {
  for (;;) {
    Step replay = sendReplay();
    if (replay == Step::kFailed) return Progress::kFailed;
    // S10: nothing of the client's overtakes the replayed ClientHello.
    Step up = replay_.empty() ? pumpDirection(client_, destination_, toDestination_) : Step::kIdle;
    if (up == Step::kFailed) return Progress::kFailed;
    Step down = pumpDirection(destination_, client_, toClient_);
    if (down == Step::kFailed) return Progress::kFailed;
    if (replay == Step::kIdle && up == Step::kIdle && down == Step::kIdle) break;
  }
  if (toDestination_.flow == Flow::kEnded && toClient_.flow == Flow::kEnded)
    return Progress::kFinished;
  return Progress::kWaiting;
}

BlindTunnel::Step BlindTunnel::sendReplay() {
  bool moved = false;
  while (replayed_ < replay_.size() && destination_.writable) {
    ssize_t n = net::sendSome(destination_, replay_.data() + replayed_, replay_.size() - replayed_);
    if (n < 0) {
      TG_DEBUG(log::kNet, "tunnel replay: %s", std::strerror(errno));
      return Step::kFailed;
    }
    if (n == 0) break;
    replayed_ += static_cast<size_t>(n);
    counters_.add(Counter::kTunnelBytesClientToDestination, static_cast<uint64_t>(n));
    toDestination_.delivered += static_cast<uint64_t>(n);
    activity_ = moved = true;
  }
  if (replayed_ == replay_.size() && !replay_.empty()) {
    std::string().swap(replay_);  // all replayed: give the memory back
    replayed_ = 0;
  }
  return moved ? Step::kMoved : Step::kIdle;
}

BlindTunnel::Step BlindTunnel::pumpDirection(net::Readiness& from, net::Readiness& to,
                                             Direction& d) {
  bool moved = false;
  if (d.pipe.empty() && d.flow == Flow::kOpen && from.readable) {
    if (!d.pipe.acquire()) {
      TG_DEBUG(log::kNet, "tunnel: no pipe for the %s's bytes: %s", d.name, std::strerror(errno));
      return Step::kFailed;
    }
    size_t n = 0;
    switch (d.pipe.fill(from, n)) {
      case net::RecvStatus::kData:
        moved = true;
        break;
      case net::RecvStatus::kEof:
        d.flow = Flow::kDraining;
        moved = true;
        break;
      case net::RecvStatus::kDrained:
        break;
      case net::RecvStatus::kError:
        TG_DEBUG(log::kNet, "tunnel: reading from the %s: %s", d.name, std::strerror(errno));
        return Step::kFailed;
    }
  }
  while (!d.pipe.empty() && to.writable) {
    ssize_t n = d.pipe.drain(to);
    if (n < 0) {
      TG_DEBUG(log::kNet, "tunnel: sending the %s's bytes: %s", d.name, std::strerror(errno));
      return Step::kFailed;
    }
    if (n == 0) break;  // `to` is full; its EPOLLOUT resumes
    counters_.add(d.counter, static_cast<uint64_t>(n));
    d.delivered += static_cast<uint64_t>(n);
    activity_ = moved = true;
  }
  if (d.pipe.empty() && d.flow == Flow::kDraining) {
    ::shutdown(to.fd, SHUT_WR);  // half-close: the other side sees EOF
    d.flow = Flow::kEnded;
    moved = true;
  }
  return moved ? Step::kMoved : Step::kIdle;
}

}  // namespace tlsgate::proxy
