// The BIO between OpenSSL and a connection's socket, and the handshake buffer (S8).
//
// OpenSSL never touches the fd by itself: it reads and writes through this BIO, which owns
// the readiness bookkeeping for edge-triggered epoll (a read that hits EAGAIN clears
// `readable`, the next EPOLLIN sets it again).
//
// While the handshake runs, every byte received is appended to the HandshakeBuffer and
// OpenSSL reads from there, so that a later decision to tunnel can replay the ClientHello
// exactly as the client sent it (S8, S10). When the handshake completes the buffer is
// released once OpenSSL has consumed what is left in it, and reads go straight to recv().
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "net/readiness.h"
#include "tls/ossl.h"

namespace tlsgate::tls {

class HandshakeBuffer {
 public:
  // Upper bound on what a client may send before the handshake completes (a ClientHello
  // with a client certificate chain fits many times over).
  static constexpr size_t kMaxBytes = 128 * 1024;

  std::string_view received() const { return {data_.get(), size_}; }
  size_t unread() const { return size_ - readPos_; }

  // Copies up to `len` unread bytes out; returns how many.
  size_t read(char* out, size_t len);
  // Room to receive into (at least `want` bytes unless the bound is reached; empty then).
  char* reserve(size_t want, size_t& room);
  void commit(size_t n) { size_ += n; }
  // The handshake completed: nothing more is recorded, what is unread is still served.
  void seal() { sealed_ = true; }
  bool sealed() const { return sealed_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t readPos_ = 0;
  bool sealed_ = false;
};

struct SocketIo : net::Readiness {
  bool eof = false;                            // the peer closed its write side
  std::unique_ptr<HandshakeBuffer> handshake;  // until the handshake completes and it drains

  // Whether a read may find bytes: in the socket (since the last EAGAIN), or already taken
  // from it into the handshake buffer and not yet read by OpenSSL. The second matters when
  // the handshake ends: the client's first request often arrives in the same segment as its
  // Finished, and OpenSSL 3.2+ reads only the records the handshake needs (3.0's read-ahead
  // took the rest into its own buffer, where SSL_has_pending() sees it). Those bytes raise
  // no edge of their own, so a reader that looked only at `readable` waited for one forever.
  bool mayRead() const { return readable || (handshake && handshake->unread() > 0); }

  // Called at handshake completion: stop recording; the buffer goes once drained.
  void endHandshake() {
    if (!handshake) return;
    handshake->seal();
    if (handshake->unread() == 0) handshake.reset();
  }
};

// A BIO over `io` (borrowed: it must outlive the BIO).
ossl::UniquePtr<BIO> newSocketBio(SocketIo* io);

// What the client of `ssl` sent so far, as it sent it (TLS records from the first byte), while
// the handshake buffer records it; "" when the session's read BIO is not a socket BIO or
// recording stopped. The ClientHello callback reads the ClientHello's own bytes here: OpenSSL
// lists only the extensions it knows (tls/ja4.h).
std::string_view handshakeBytesReceived(SSL* ssl);

}  // namespace tlsgate::tls
