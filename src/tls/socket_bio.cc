#include "tls/socket_bio.h"

#include "net/socket.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tlsgate::tls {

size_t HandshakeBuffer::read(char* out, size_t len) {
  size_t n = std::min(len, unread());
  std::memcpy(out, data_.get() + readPos_, n);
  readPos_ += n;
  return n;
}

char* HandshakeBuffer::reserve(size_t want, size_t& room) {
  if (capacity_ - size_ < want && capacity_ < kMaxBytes) {
    size_t cap = std::max<size_t>(capacity_ * 2, 4096);
    while (cap - size_ < want && cap < kMaxBytes) cap *= 2;
    cap = std::min(cap, kMaxBytes);
    auto grown = std::make_unique_for_overwrite<char[]>(cap);
    if (size_) std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = cap;
  }
  room = capacity_ - size_;
  return data_.get() + size_;
}

namespace {

SocketIo* ioOf(BIO* bio) {
  return static_cast<SocketIo*>(BIO_get_data(bio));
}

// recv() for OpenSSL: >0 bytes, 0 at EOF, -1 to retry (drained) or on failure (errno).
int recvInto(BIO* bio, SocketIo& io, char* out, size_t len) {
  size_t n = 0;
  switch (net::recvSome(io, out, len, n)) {
    case net::RecvStatus::kData:
      return static_cast<int>(n);
    case net::RecvStatus::kEof:
      io.eof = true;
      return 0;
    case net::RecvStatus::kDrained:
      BIO_set_retry_read(bio);
      return -1;
    case net::RecvStatus::kError:
      break;
  }
  return -1;
}

int bioRead(BIO* bio, char* out, int len) {
  SocketIo& io = *ioOf(bio);
  BIO_clear_retry_flags(bio);
  if (len <= 0) return 0;
  if (io.handshake) {
    HandshakeBuffer& hb = *io.handshake;
    if (hb.unread() == 0 && !hb.sealed()) {
      // S8: receive into the handshake buffer, keeping every byte for a possible replay.
      size_t room = 0;
      char* dst = hb.reserve(4096, room);  // a ClientHello fits; grows for more
      if (room == 0) {
        errno = EMSGSIZE;  // the driver reports it as kTooLarge
        return -1;
      }
      int n = recvInto(bio, io, dst, room);
      if (n <= 0) return n;
      hb.commit(n);
    }
    if (hb.unread() > 0) {
      int n = static_cast<int>(hb.read(out, len));
      if (hb.sealed() && hb.unread() == 0) io.handshake.reset();
      return n;
    }
    io.handshake.reset();  // drained after the handshake: read directly from now on
  }
  return recvInto(bio, io, out, len);
}

int bioWrite(BIO* bio, const char* in, int len) {
  SocketIo& io = *ioOf(bio);
  BIO_clear_retry_flags(bio);
  if (len <= 0) return 0;
  ssize_t n = net::sendSome(io, in, static_cast<size_t>(len));
  if (n > 0) return static_cast<int>(n);
  if (n == 0) BIO_set_retry_write(bio);  // the socket is full
  return -1;
}

long bioCtrl(BIO* bio, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return ioOf(bio)->eof ? 1 : 0;
    case BIO_CTRL_PENDING: {
      SocketIo* io = ioOf(bio);
      return io->handshake ? static_cast<long>(io->handshake->unread()) : 0;
    }
    default:
      return 0;
  }
}

int bioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int socketBioType() {
  static const int type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
  return type;
}

BIO_METHOD* socketMethod() {
  static ossl::UniquePtr<BIO_METHOD> method = [] {
    ossl::UniquePtr<BIO_METHOD> m(BIO_meth_new(socketBioType(), "tlsgate socket"));
    BIO_meth_set_read(m.get(), bioRead);
    BIO_meth_set_write(m.get(), bioWrite);
    BIO_meth_set_ctrl(m.get(), bioCtrl);
    BIO_meth_set_create(m.get(), bioCreate);
    return m;
  }();
  return method.get();
}

}  // namespace

ossl::UniquePtr<BIO> newSocketBio(SocketIo* io) {
  ossl::UniquePtr<BIO> bio(BIO_new(socketMethod()));
  if (bio) BIO_set_data(bio.get(), io);
  return bio;
}

std::string_view handshakeBytesReceived(SSL* ssl) {
  BIO* bio = SSL_get_rbio(ssl);
  if (!bio || BIO_method_type(bio) != socketBioType()) return {};
  const SocketIo* io = ioOf(bio);
  return io && io->handshake ? io->handshake->received() : std::string_view{};
}

}  // namespace tlsgate::tls
