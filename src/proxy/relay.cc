#include "proxy/relay.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "net/socket.h"
#include "tls/tls_io.h"

namespace tlsgate::proxy {

using stats::Counter;
using tls::IoStatus;

Relay::Relay(SSL* ssl, tls::SocketIo& client, Fd upstream, BufferPool& pool,
             stats::CounterBlock& counters)
    : ssl_(ssl), client_(client), upstream_(std::move(upstream)), pool_(pool), counters_(counters) {
  upstreamIo_.fd = upstream_.get();
}

Relay::~Relay() {
  toUpstream_.release(pool_);
  toClient_.release(pool_);
}

Progress Relay::pump() {
  bool failed = false;
  for (;;) {
    bool moved = pumpClientToUpstream(failed);
    if (failed) return Progress::kFailed;
    moved |= pumpUpstreamToClient(failed);
    if (failed) return Progress::kFailed;
    if (!moved) break;
  }
  if (clientFlow_ == Flow::kEnded && upstreamFlow_ == Flow::kEnded) return Progress::kFinished;
  return Progress::kWaiting;
}

bool Relay::pumpClientToUpstream(bool& failed) {
  bool moved = false;
  if (toUpstream_.empty() && clientFlow_ == Flow::kOpen &&
      (client_.readable || SSL_has_pending(ssl_) || (readWantsWrite_ && client_.writable))) {
    size_t room = 0;
    char* dst = toUpstream_.fillSpace(pool_, room);
    tls::IoResult r = tls::tlsRead(ssl_, dst, room);
    readWantsWrite_ = r.status == IoStatus::kWantWrite;
    switch (r.status) {
      case IoStatus::kOk:
        toUpstream_.filled(r.bytes);
        moved = true;
        break;
      case IoStatus::kEof:
        clientFlow_ = Flow::kDraining;
        moved = true;
        break;
      case IoStatus::kError:
        failed = true;
        return false;
      case IoStatus::kWantRead:
      case IoStatus::kWantWrite:
        break;
    }
    if (toUpstream_.empty()) toUpstream_.release(pool_);
  }
  while (!toUpstream_.empty() && upstreamIo_.writable) {
    ssize_t n = net::sendSome(upstreamIo_, toUpstream_.data(), toUpstream_.size());
    if (n < 0) {
      TG_DEBUG(log::kRelay, "send to upstream: %s", std::strerror(errno));
      failed = true;
      return false;
    }
    if (n > 0) {
      counters_.add(Counter::kRelayBytesClientToUpstream, n);
      toUpstream_.consumed(n, pool_);
      moved = true;
    }
  }
  if (toUpstream_.empty() && clientFlow_ == Flow::kDraining) {
    ::shutdown(upstream_.get(), SHUT_WR);  // half-close: the upstream sees EOF
    clientFlow_ = Flow::kEnded;
    moved = true;
  }
  return moved;
}

bool Relay::pumpUpstreamToClient(bool& failed) {
  bool moved = false;
  if (toClient_.empty() && upstreamFlow_ == Flow::kOpen && upstreamIo_.readable) {
    size_t room = 0;
    char* dst = toClient_.fillSpace(pool_, room);
    size_t n = 0;
    switch (net::recvSome(upstreamIo_, dst, room, n)) {
      case net::RecvStatus::kData:
        toClient_.filled(n);
        moved = true;
        break;
      case net::RecvStatus::kEof:
        upstreamFlow_ = Flow::kDraining;
        moved = true;
        break;
      case net::RecvStatus::kDrained:
        break;
      case net::RecvStatus::kError:
        TG_DEBUG(log::kRelay, "recv from upstream: %s", std::strerror(errno));
        failed = true;
        return false;
    }
    if (toClient_.empty()) toClient_.release(pool_);
  }
  while (!toClient_.empty() && (client_.writable || (writeWantsRead_ && client_.readable))) {
    tls::IoResult r = tls::tlsWrite(ssl_, toClient_.data(), toClient_.size());
    writeWantsRead_ = r.status == IoStatus::kWantRead;
    if (r.status == IoStatus::kOk) {
      counters_.add(Counter::kRelayBytesUpstreamToClient, r.bytes);
      toClient_.consumed(r.bytes, pool_);
      moved = true;
    } else if (r.status == IoStatus::kEof || r.status == IoStatus::kError) {
      failed = true;
      return false;
    } else {
      break;
    }
  }
  if (toClient_.empty() && upstreamFlow_ == Flow::kDraining && client_.writable) {
    tls::IoResult r = tls::tlsShutdown(ssl_);  // close_notify: the client sees EOF
    if (r.status == IoStatus::kError) {
      failed = true;
      return false;
    }
    if (r.status == IoStatus::kOk) {
      upstreamFlow_ = Flow::kEnded;
      moved = true;
    }
  }
  return moved;
}

}  // namespace tlsgate::proxy
