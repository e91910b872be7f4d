#include "net/socket.h"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tlsgate::net {

namespace {
Error sysError(const std::string& what) {
  return Error{"", 0, what + ": " + std::strerror(errno)};
}
}  // namespace

namespace {

// A socket bound to `address`, not yet listening; with SO_REUSEPORT when `reusePort`.
Result<Fd> bindSocket(const Address& address, bool transparent, bool reusePort) {
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sysError("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reusePort && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return sysError("SO_REUSEPORT");
  // S5: a transparent listener accepts connections TPROXY redirected to it; each one's
  // local address is where the client was going. Needs CAP_NET_ADMIN.
  if (transparent && ::setsockopt(fd.get(), address.family() == AF_INET6 ? SOL_IPV6 : SOL_IP,
                                  address.family() == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT,
                                  &one, sizeof one) != 0)
    return sysError("IP_TRANSPARENT (transparent: true needs CAP_NET_ADMIN)");
  if (::bind(fd.get(), address.sockaddrPtr(), address.length()) != 0)
    return sysError("cannot listen on " + address.toString());
  return fd;
}

}  // namespace

Result<Fd> listenReusePort(const Address& address, bool transparent, int backlog) {
  auto fd = bindSocket(address, transparent, /*reusePort=*/true);
  if (!fd) return fd.error();
  if (::listen(fd->get(), backlog) != 0) return sysError("listen on " + address.toString());
  return fd;
}

Status checkAddressFree(const Address& address, bool transparent) {
  if (address.port() == 0) return Ok{};  // a new port is chosen: nobody else has it
  auto probe = bindSocket(address, transparent, /*reusePort=*/false);
  if (!probe) return probe.error();
  return Ok{};
}

Address localAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

Result<Fd> connectNonBlocking(const Address& address) {
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sysError("socket");
  setNoDelay(fd.get());
  if (::connect(fd.get(), address.sockaddrPtr(), address.length()) != 0 && errno != EINPROGRESS)
    return sysError("connect to " + address.toString());
  return fd;
}

int connectResult(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

ssize_t sendSome(Readiness& socket, const char* data, size_t len) {
  for (;;) {
    ssize_t n = ::send(socket.fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    socket.writable = false;
    return 0;
  }
}

RecvStatus recvSome(Readiness& socket, char* out, size_t len, size_t& n) {
  for (;;) {
    ssize_t got = ::recv(socket.fd, out, len, 0);
    if (got > 0) {
      n = static_cast<size_t>(got);
      if (n < len && !socket.hangup) socket.readable = false;
      return RecvStatus::kData;
    }
    if (got == 0) return RecvStatus::kEof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return RecvStatus::kError;
    socket.readable = false;
    return RecvStatus::kDrained;
  }
}

RecvStatus peekSome(Readiness& socket, char* out, size_t len, size_t& n) {
  for (;;) {
    ssize_t got = ::recv(socket.fd, out, len, MSG_PEEK);
    if (got > 0) {
      n = static_cast<size_t>(got);
      return RecvStatus::kData;
    }
    if (got == 0) return RecvStatus::kEof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return RecvStatus::kError;
    socket.readable = false;
    return RecvStatus::kDrained;
  }
}

bool discard(Readiness& socket, size_t len) {
  char buf[512];
  while (len > 0) {
    ssize_t got = ::recv(socket.fd, buf, std::min(len, sizeof buf), 0);
    if (got <= 0) return false;
    len -= static_cast<size_t>(got);
  }
  return true;
}

bool sendWhole(int fd, std::string_view data) {
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

void setNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace tlsgate::net
