// Readiness: what is known about a non-blocking socket under edge-triggered epoll.
//
// Each flag is set by an epoll event and cleared by the I/O call that found the socket
// drained (or full); the owner only tries an operation while its flag is set, so no
// syscall is spent on an EAGAIN that an edge would have announced.
#pragma once

#include <sys/epoll.h>

#include <cstdint>

namespace tlsgate::net {

struct Readiness {
  int fd = -1;
  bool readable = true;  // no EAGAIN (or short read) since the last EPOLLIN
  bool writable = true;  // no EAGAIN since the last EPOLLOUT
  bool hangup = false;   // the peer hung up: read until EOF, a short read is not "drained"

  void update(uint32_t events) {
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) hangup = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable = true;
  }
};

}  // namespace tlsgate::net
