// ClientVerification: client-certificate settings for one server name (sni.yaml
// verify_client / verify_client_ca_certs), applied to a connection after its context is
// chosen. The CA file is read once, when the configuration is loaded.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "tls/ossl.h"

namespace tlsgate::tls {

class ClientVerification {
 public:
  // `mode`: SSL_VERIFY_NONE, or SSL_VERIFY_PEER optionally with
  // SSL_VERIFY_FAIL_IF_NO_PEER_CERT. `caFile` is required unless the mode is NONE.
  static Result<std::unique_ptr<ClientVerification>> load(int mode, const std::string& caFile);

  // Requests (or stops requesting) a client certificate on `ssl`, verified against this
  // CA set and passed to the VERIFY_CLIENT hooks. Call after any SSL_set_SSL_CTX: the
  // verify store lives with the context's certificate settings, which a switch replaces.
  void apply(SSL* ssl) const;

 private:
  int mode_ = SSL_VERIFY_NONE;
  ossl::UniquePtr<X509_STORE> store_;
  ossl::UniquePtr<STACK_OF(X509_NAME)> names_;
};

}  // namespace tlsgate::tls
