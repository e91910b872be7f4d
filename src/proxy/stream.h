// Stream: one side of a relay — a plain TCP socket or a TLS session over one — behind the
// four operations the relay needs, so that one pump serves every pairing (TLS client ↔
// plaintext upstream, TLS client ↔ TLS origin).
//
// Each stream knows when an operation is worth trying (canRead / canWrite) from the
// socket's readiness and, for TLS, from what OpenSSL asked for last (a read may need the
// socket writable during a key update; a write may need it readable).
#pragma once

#include <cstddef>

#include "net/readiness.h"
#include "tls/ossl.h"
#include "tls/tls_io.h"

namespace tlsgate::proxy {

class Stream {
 public:
  virtual ~Stream() = default;
  // kOk with bytes, kEof, kWantRead / kWantWrite (nothing now), kError.
  virtual tls::IoResult read(char* out, size_t len) = 0;
  virtual tls::IoResult write(const char* in, size_t len) = 0;
  // Ends our direction: FIN for TCP, close_notify for TLS. kOk when done; kWant* to retry.
  virtual tls::IoResult shutdownWrite() = 0;
  virtual bool canRead() const = 0;
  virtual bool canWrite() const = 0;
};

class PlainStream final : public Stream {
 public:
  explicit PlainStream(net::Readiness& io) : io_(io) {}
  tls::IoResult read(char* out, size_t len) override;
  tls::IoResult write(const char* in, size_t len) override;
  tls::IoResult shutdownWrite() override;
  bool canRead() const override { return io_.readable; }
  bool canWrite() const override { return io_.writable; }

 private:
  net::Readiness& io_;
};

class TlsStream final : public Stream {
 public:
  // `io` is the socket under `ssl` (its BIO keeps the readiness up to date).
  TlsStream(SSL* ssl, tls::SocketIo& io) : ssl_(ssl), io_(io) {}
  tls::IoResult read(char* out, size_t len) override;
  tls::IoResult write(const char* in, size_t len) override;
  tls::IoResult shutdownWrite() override;
  bool canRead() const override {
    return tls::tlsMayRead(ssl_, io_) || (readWantsWrite_ && io_.writable);
  }
  bool canWrite() const override { return io_.writable || (writeWantsRead_ && io_.readable); }

 private:
  SSL* ssl_;
  tls::SocketIo& io_;
  bool readWantsWrite_ = false;  // SSL_read asked for write readiness (key update)
  bool writeWantsRead_ = false;  // SSL_write asked for read readiness
};

}  // namespace tlsgate::proxy
