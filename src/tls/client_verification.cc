#include "tls/client_verification.h"

#include "tls/server_handshake.h"

namespace tlsgate::tls {

Result<std::unique_ptr<ClientVerification>> ClientVerification::load(int mode,
                                                                     const std::string& caFile) {
  auto v = std::make_unique<ClientVerification>();
  v->mode_ = mode;
  if (mode == SSL_VERIFY_NONE) return v;
  v->store_.reset(X509_STORE_new());
  if (!v->store_ || X509_STORE_load_file(v->store_.get(), caFile.c_str()) != 1)
    return Error{"", 0,
                 "cannot load CA certificates from '" + caFile + "': " + ossl::drainErrors()};
  v->names_.reset(SSL_load_client_CA_file(caFile.c_str()));
  if (!v->names_) return Error{"", 0, "no CA certificate in '" + caFile + "'"};
  return v;
}

void ClientVerification::apply(SSL* ssl) const {
  ServerHandshake::setClientVerification(ssl, mode_);
  if (mode_ == SSL_VERIFY_NONE) return;
  SSL_set1_verify_cert_store(ssl, store_.get());
  SSL_set_client_CA_list(ssl, SSL_dup_CA_list(names_.get()));  // the SSL owns the copy
  static const unsigned char kSessionContext[] = "tlsgate";
  SSL_set_session_id_context(ssl, kSessionContext, sizeof kSessionContext - 1);
}

}  // namespace tlsgate::tls
