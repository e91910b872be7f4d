// Socket helpers: listening sockets (one per worker, SO_REUSEPORT) and non-blocking connect.
#pragma once

#include <string_view>

#include "core/fd.h"
#include "core/result.h"
#include "net/address.h"
#include "net/readiness.h"

namespace tlsgate::net {

// A non-blocking listening socket on `address` with SO_REUSEPORT, so that every worker
// can have its own socket on the same address and the kernel spreads connections.
// `transparent` sets IP_TRANSPARENT (TPROXY).
Result<Fd> listenReusePort(const Address& address, bool transparent = false, int backlog = 4096);

// D6: SO_REUSEPORT lets any socket of the same user join an address, a second tlsgate
// included, which would then take a share of the first one's connections. Before its first
// socket on an address, a gateway calls this: a bind without SO_REUSEPORT fails ("cannot
// listen on A: Address already in use") when any other socket listens there, SO_REUSEPORT
// or not. The probe is closed at once. Port 0 needs no check.
Status checkAddressFree(const Address& address, bool transparent);

// The address a socket is bound to.
Address localAddress(int fd);

// Starts a non-blocking connect; the connection completes (or fails) later, reported by
// write readiness and SO_ERROR (see connectResult()).
Result<Fd> connectNonBlocking(const Address& address);
// 0 once connected, else the errno of the failed connect.
int connectResult(int fd);

void setNoDelay(int fd);

// Non-blocking I/O with the readiness bookkeeping edge-triggered epoll needs.
//
// sendSome: sends as much of [data, data + len) as the socket takes. Returns the bytes sent,
// 0 when the socket is full (`writable` is cleared), or -1 on a socket error (see errno).
ssize_t sendSome(Readiness& socket, const char* data, size_t len);

enum class RecvStatus { kData, kEof, kDrained, kError };
// recvSome: kData with `n` bytes, kEof, kDrained (EAGAIN: `readable` cleared) or kError (see
// errno). A short read also clears `readable` — the socket is drained and the next byte
// brings a new edge — unless the peer hung up, whose EOF must still be read.
RecvStatus recvSome(Readiness& socket, char* out, size_t len, size_t& n);

// peekSome: like recvSome, but the bytes stay in the socket (MSG_PEEK): how a PROXY header
// and S9's first byte are looked at before TLS reads the socket. A short peek does not
// clear `readable` (the bytes are still there); EAGAIN does.
RecvStatus peekSome(Readiness& socket, char* out, size_t len, size_t& n);
// Takes `len` bytes that peekSome saw from the socket; false if they are not all there.
bool discard(Readiness& socket, size_t len);
// Sends all of `data` on a socket just connected (whose buffer takes a few hundred bytes
// whole: a PROXY header); false if it did not.
bool sendWhole(int fd, std::string_view data);

}  // namespace tlsgate::net
