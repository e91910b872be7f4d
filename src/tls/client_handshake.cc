#include "tls/client_handshake.h"

#include <cerrno>
#include <cstring>

namespace tlsgate::tls {

Result<ossl::UniquePtr<SSL_CTX>> newClientContext() {
  ossl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Error{"", 0, "cannot create the origin SSL_CTX: " + ossl::drainErrors()};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

ClientHandshake::ClientHandshake(SSL_CTX* ctx, ossl::UniquePtr<BIO> bio, const std::string& sni)
    : ssl_(SSL_new(ctx)) {
  if (!ssl_) {
    reason_ = "cannot create the origin SSL: " + ossl::drainErrors();
    return;
  }
  BIO* b = bio.release();
  SSL_set_bio(ssl_.get(), b, b);
  SSL_set_connect_state(ssl_.get());
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl_.get(), sni.c_str());
}

HandshakeWait ClientHandshake::advance() {
  if (done_ || failed()) return HandshakeWait::kNone;
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) {
    done_ = true;
    return HandshakeWait::kNone;
  }
  int sysErrno = errno;
  switch (SSL_get_error(ssl_.get(), rc)) {
    case SSL_ERROR_WANT_READ:
      return HandshakeWait::kRead;
    case SSL_ERROR_WANT_WRITE:
      return HandshakeWait::kWrite;
    case SSL_ERROR_SYSCALL: {
      std::string queued = ossl::drainErrors();
      reason_ = sysErrno ? std::strerror(sysErrno) : queued.empty() ? "origin closed" : queued;
      return HandshakeWait::kNone;
    }
    default: {
      std::string queued = ossl::drainErrors();
      reason_ = queued.empty() ? "TLS handshake with the origin failed" : queued;
      return HandshakeWait::kNone;
    }
  }
}

}  // namespace tlsgate::tls
