#include "proxy/blind_tunnel.h"

#include <sys/socket.h>

#include "net/socket.h"

namespace tlsgate::proxy {

BlindTunnel::BlindTunnel(tls::SocketIo& client, Fd destination, std::string replay,
                         BufferPool& pool)
    : client_(client),
      destinationFd_(std::move(destination)),
      replay_(std::move(replay)),
      pool_(pool) {
  destination_.fd = destinationFd_.get();
}

BlindTunnel::~BlindTunnel() {
  toDestination_.release(pool_);
  toClient_.release(pool_);
}

bool BlindTunnel::flushReplay(bool& failed) {
  bool moved = false;
  while (replayed_ < replay_.size() && destination_.writable) {
    ssize_t n = net::sendSome(destination_, replay_.data() + replayed_, replay_.size() - replayed_);
    if (n < 0) {
      failed = true;
      return false;
    }
    replayed_ += n;
    moved |= n > 0;
  }
  if (replayed_ == replay_.size() && !replay_.empty()) {
    std::string().swap(replay_);  // all replayed: give the memory back
    replayed_ = 0;
  }
  return moved;
}

bool BlindTunnel::pumpDirection(net::Readiness& from, net::Readiness& to, Chunk& chunk, Flow& flow,
                                bool& failed) {
  bool moved = false;
  if (chunk.empty() && flow == Flow::kOpen && from.readable) {
    size_t room = 0;
    char* dst = chunk.fillSpace(pool_, room);
    size_t n = 0;
    switch (net::recvSome(from, dst, room, n)) {
      case net::RecvStatus::kData:
        chunk.filled(n);
        moved = true;
        break;
      case net::RecvStatus::kEof:
        flow = Flow::kDraining;
        moved = true;
        break;
      case net::RecvStatus::kDrained:
        break;
      case net::RecvStatus::kError:
        failed = true;
        return false;
    }
    if (chunk.empty()) chunk.release(pool_);
  }
  while (!chunk.empty() && to.writable) {
    ssize_t n = net::sendSome(to, chunk.data(), chunk.size());
    if (n < 0) {
      failed = true;
      return false;
    }
    if (n > 0) {
      chunk.consumed(n, pool_);
      moved = true;
    }
  }
  if (chunk.empty() && flow == Flow::kDraining) {
    ::shutdown(to.fd, SHUT_WR);
    flow = Flow::kEnded;
    moved = true;
  }
  return moved;
}

Progress BlindTunnel::pump() {
  bool failed = false;
  for (;;) {
    bool moved = flushReplay(failed);
    if (failed) return Progress::kFailed;
    if (replay_.empty())
      moved |= pumpDirection(client_, destination_, toDestination_, clientFlow_, failed);
    if (failed) return Progress::kFailed;
    moved |= pumpDirection(destination_, client_, toClient_, destinationFlow_, failed);
    if (failed) return Progress::kFailed;
    if (!moved) break;
  }
  if (clientFlow_ == Flow::kEnded && destinationFlow_ == Flow::kEnded) return Progress::kFinished;
  return Progress::kWaiting;
}

}  // namespace tlsgate::proxy
