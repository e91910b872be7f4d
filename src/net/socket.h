// Socket helpers: listening sockets (one per worker, SO_REUSEPORT) and non-blocking connect.
#pragma once

#include "core/fd.h"
#include "core/result.h"
#include "net/address.h"

namespace tlsgate::net {

// A non-blocking listening socket on `address` with SO_REUSEPORT, so that every worker
// can have its own socket on the same address and the kernel spreads connections.
Result<Fd> listenReusePort(const Address& address, int backlog = 4096);

// The address a socket is bound to.
Address localAddress(int fd);

// Starts a non-blocking connect; the connection completes (or fails) later, reported by
// write readiness and SO_ERROR (see connectResult()).
Result<Fd> connectNonBlocking(const Address& address);
// 0 once connected, else the errno of the failed connect.
int connectResult(int fd);

void setNoDelay(int fd);

}  // namespace tlsgate::net
