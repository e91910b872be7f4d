#include "tls/tls_io.h"

#include <cerrno>

#include "core/log.h"

namespace tlsgate::tls {

namespace {

IoResult classify(SSL* ssl, int rc) {
  int err = SSL_get_error(ssl, rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return {IoStatus::kWantRead};
    case SSL_ERROR_WANT_WRITE:
      return {IoStatus::kWantWrite};
    case SSL_ERROR_ZERO_RETURN:
      return {IoStatus::kEof};
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0 && errno == 0) return {IoStatus::kEof};
      break;
    case SSL_ERROR_SSL:
      // A TCP FIN without close_notify: most clients end that way; treat it as EOF.
      if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return {IoStatus::kEof};
      }
      break;
    default:
      break;
  }
  std::string reason = ossl::drainErrors();
  TG_DEBUG(log::kSslError, "TLS I/O error %d: %s", err, reason.c_str());
  return {IoStatus::kError};
}

}  // namespace

IoResult tlsRead(SSL* ssl, char* out, size_t len) {
  size_t n = 0;
  errno = 0;
  int rc = SSL_read_ex(ssl, out, len, &n);
  if (rc == 1) return {IoStatus::kOk, n};
  return classify(ssl, rc);
}

IoResult tlsWrite(SSL* ssl, const char* in, size_t len) {
  size_t n = 0;
  errno = 0;
  int rc = SSL_write_ex(ssl, in, len, &n);
  if (rc == 1) return {IoStatus::kOk, n};
  return classify(ssl, rc);
}

IoResult tlsShutdown(SSL* ssl) {
  errno = 0;
  int rc = SSL_shutdown(ssl);
  if (rc >= 0) return {IoStatus::kOk};
  IoResult r = classify(ssl, rc);
  return r.status == IoStatus::kWantWrite || r.status == IoStatus::kWantRead
             ? r
             : IoResult{IoStatus::kError};
}

}  // namespace tlsgate::tls
