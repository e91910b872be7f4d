#include "tls/client_verification.h"

#include "tls/cert_loader.h"
#include "tls/server_handshake.h"

namespace tlsgate::tls {

Result<std::unique_ptr<ClientVerification>> ClientVerification::load(int mode,
                                                                     const std::string& caFile) {
  auto v = std::make_unique<ClientVerification>();
  v->mode_ = mode;
  if (mode == SSL_VERIFY_NONE) return v;
  v->store_.reset(X509_STORE_new());
  v->names_.reset(sk_X509_NAME_new_null());
  if (!v->store_ || !v->names_) return Error{"", 0, "out of memory"};
  // Read through the bounded reader (D4), not by OpenSSL's file functions.
  if (auto st = loadCaFile(v->store_.get(), caFile, v->names_.get()); !st) return st.error();
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
