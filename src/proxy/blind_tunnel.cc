#include "proxy/blind_tunnel.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

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
  if (replayed_ == replay_.size() && !replay_.empty()) {
    std::string().swap(replay_);  // all replayed: give the memory back
    replayed_ = 0;
  }
  return moved;
}

bool BlindTunnel::pumpDirection(tls::SocketIo& from, tls::SocketIo& to, Chunk& chunk, Flow& flow,
                                bool& failed) {
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
