// ClientHandshake: the client side of TLS, towards an origin (sni.yaml partial_blind_route:
// terminate the client's TLS, then re-encrypt to the origin).
//
// Same shape as the server driver: advance() runs SSL_do_handshake over whatever BIO it is
// given and says what it waits for. The server name sent is the client's own SNI, so the
// origin serves the certificate the client asked for. Certificate verification of the
// origin belongs to the origin TLS work (issue 5); until then the context verifies nothing.
#pragma once

#include <string>

#include "core/result.h"
#include "tls/ossl.h"
#include "tls/server_handshake.h"

namespace tlsgate::tls {

// The client context every origin connection of a snapshot uses.
Result<ossl::UniquePtr<SSL_CTX>> newClientContext();

class ClientHandshake {
 public:
  // `sni` may be empty (no server_name sent).
  ClientHandshake(SSL_CTX* ctx, ossl::UniquePtr<BIO> bio, const std::string& sni);

  // kNone once done or failed (see failed()); kRead / kWrite: wait for that readiness.
  HandshakeWait advance();
  bool done() const { return done_; }
  bool failed() const { return !reason_.empty(); }
  const std::string& reason() const { return reason_; }
  ossl::UniquePtr<SSL> takeSsl() { return std::move(ssl_); }

 private:
  ossl::UniquePtr<SSL> ssl_;
  bool done_ = false;
  std::string reason_;
};

}  // namespace tlsgate::tls
