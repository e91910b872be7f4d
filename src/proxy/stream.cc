#include "proxy/stream.h"

#include <sys/socket.h>

#include "net/socket.h"

namespace tlsgate::proxy {

using tls::IoResult;
using tls::IoStatus;

IoResult PlainStream::read(char* out, size_t len) {
  size_t n = 0;
  switch (net::recvSome(io_, out, len, n)) {
    case net::RecvStatus::kData:
      return {IoStatus::kOk, n};
    case net::RecvStatus::kEof:
      return {IoStatus::kEof};
    case net::RecvStatus::kDrained:
      return {IoStatus::kWantRead};
    case net::RecvStatus::kError:
      break;
  }
  return {IoStatus::kError};
}

IoResult PlainStream::write(const char* in, size_t len) {
  ssize_t n = net::sendSome(io_, in, len);
  if (n < 0) return {IoStatus::kError};
  if (n == 0) return {IoStatus::kWantWrite};
  return {IoStatus::kOk, static_cast<size_t>(n)};
}

IoResult PlainStream::shutdownWrite() {
  ::shutdown(io_.fd, SHUT_WR);  // half-close: the peer sees EOF
  return {IoStatus::kOk};
}

IoResult TlsStream::read(char* out, size_t len) {
  IoResult r = tls::tlsRead(ssl_, out, len);
  readWantsWrite_ = r.status == IoStatus::kWantWrite;
  return r;
}

IoResult TlsStream::write(const char* in, size_t len) {
  IoResult r = tls::tlsWrite(ssl_, in, len);
  writeWantsRead_ = r.status == IoStatus::kWantRead;
  return r;
}

IoResult TlsStream::shutdownWrite() {
  if (!io_.writable) return {IoStatus::kWantWrite};
  return tls::tlsShutdown(ssl_);  // close_notify: the peer sees EOF
}

}  // namespace tlsgate::proxy
