#include "proxy/blind_tunnel.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace tlsgate::proxy {

BlindTunnel::BlindTunnel(tls::SocketIo& client, Fd destination, std::string replay,
                         BufferPool& pool)
    : client_(client),
      destinationFd_(std::move(destination)),
      clientSide_{client.fd, client.readable, client.writable, client.hangup},
      destination_{destinationFd_.get()},
      replay_(std::move(replay)),
      pool_(pool) {}

BlindTunnel::~BlindTunnel() {
  toDestination_.release(pool_);
  toClient_.release(pool_);
}

void BlindTunnel::destinationReady(uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) destination_.readable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) destination_.hangup = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) destination_.writable = true;
}

bool BlindTunnel::flushReplay(bool& failed) {
  bool moved = false;
  while (replayed_ < replay_.size() && destination_.writable) {
    ssize_t n = ::send(destination_.fd, replay_.data() + replayed_, replay_.size() - replayed_,
                       MSG_NOSIGNAL);
    if (n > 0) {
      replayed_ += n;
      moved = true;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      destination_.writable = false;
    } else if (n < 0 && errno != EINTR) {
      failed = true;
      return false;
    }
  }
  if (replayed_ == replay_.size() && !replay_.empty()) std::string().swap(replay_), replayed_ = 0;
  return moved;
}

bool BlindTunnel::pumpDirection(Side& from, Side& to, Chunk& chunk, Flow& flow, bool& failed) {
  bool moved = false;
  if (chunk.empty() && flow == Flow::kOpen && from.readable) {
    size_t room = 0;
    char* dst = chunk.fillSpace(pool_, room);
    ssize_t n = ::recv(from.fd, dst, room, 0);
    if (n > 0) {
      chunk.filled(n);
      if (static_cast<size_t>(n) < room && !from.hangup) from.readable = false;
      moved = true;
    } else if (n == 0) {
      flow = Flow::kDraining;
      moved = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      from.readable = false;
    } else if (errno != EINTR) {
      failed = true;
      return false;
    }
    if (chunk.empty()) chunk.release(pool_);
  }
  while (!chunk.empty() && to.writable) {
    ssize_t n = ::send(to.fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      chunk.consumed(n, pool_);
      moved = true;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      to.writable = false;
    } else if (n < 0 && errno != EINTR) {
      failed = true;
      return false;
    }
  }
  if (chunk.empty() && flow == Flow::kDraining) {
    ::shutdown(to.fd, SHUT_WR);
    flow = Flow::kEnded;
    moved = true;
  }
  return moved;
}

BlindTunnel::Progress BlindTunnel::pump() {
  // The connection tracks the client socket's readiness in its SocketIo; mirror it.
  clientSide_.readable |= client_.readable;
  clientSide_.writable |= client_.writable;
  clientSide_.hangup |= client_.hangup;
  client_.readable = client_.writable = false;
  bool failed = false;
  for (;;) {
    bool moved = flushReplay(failed);
    if (failed) return Progress::kFailed;
    if (replay_.empty())
      moved |= pumpDirection(clientSide_, destination_, toDestination_, clientFlow_, failed);
    if (failed) return Progress::kFailed;
    moved |= pumpDirection(destination_, clientSide_, toClient_, destinationFlow_, failed);
    if (failed) return Progress::kFailed;
    if (!moved) break;
  }
  if (clientFlow_ == Flow::kEnded && destinationFlow_ == Flow::kEnded) return Progress::kFinished;
  return Progress::kWaiting;
}

}  // namespace tlsgate::proxy
