// Application-data I/O on an established SSL, with OpenSSL's results mapped to four
// outcomes. The relay and the inspect endpoint use these instead of SSL_get_error.
#pragma once

#include <cstddef>

#include "tls/ossl.h"
#include "tls/socket_bio.h"

namespace tlsgate::tls {

enum class IoStatus : unsigned char {
  kOk,         // `bytes` moved
  kWantRead,   // retry when the socket is readable
  kWantWrite,  // retry when the socket is writable
  kEof,        // the peer closed (close_notify, or TCP FIN without it)
  kError,      // fatal; the error queue was drained into `reason`
};

struct IoResult {
  IoStatus status;
  size_t bytes = 0;
};

// Whether SSL_read on `ssl` over `io` may make progress without a new readiness edge: bytes
// wait in the socket, in the BIO's handshake buffer, or in OpenSSL's record layer. Every
// reader of an established session asks this, never `io.readable` alone.
inline bool tlsMayRead(SSL* ssl, const SocketIo& io) {
  return io.mayRead() || SSL_has_pending(ssl);
}

IoResult tlsRead(SSL* ssl, char* out, size_t len);
IoResult tlsWrite(SSL* ssl, const char* in, size_t len);
// Sends close_notify: kOk when sent, kWantWrite to retry, kError otherwise.
IoResult tlsShutdown(SSL* ssl);

}  // namespace tlsgate::tls
