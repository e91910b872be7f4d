#include "tls/server_context.h"

#include "tls/cert_loader.h"
#include "tls/keylog.h"
#include "tls/ocsp_stapling.h"
#include "tls/server_handshake.h"
#include "tls/session_tickets.h"

namespace tlsgate::tls {

std::string alpnToWire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    wire += static_cast<char>(p.size());
    wire += p;
  }
  return wire;
}

Result<ossl::UniquePtr<SSL_CTX>> newServerContext(const ServerParams& params) {
  ossl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  auto fail = [](const char* what) {
    return Error{"", 0, std::string(what) + ": " + ossl::drainErrors()};
  };
  if (!ctx) return fail("cannot create SSL_CTX");
  SSL_CTX* c = ctx.get();
  if (!SSL_CTX_set_min_proto_version(c, params.minVersion) ||
      !SSL_CTX_set_max_proto_version(c, params.maxVersion))
    return fail("cannot set protocol versions");
  if (!SSL_CTX_set_cipher_list(c, params.ciphers.c_str()))
    return fail(("bad cipher list '" + params.ciphers + "'").c_str());
  if (!SSL_CTX_set_ciphersuites(c, params.ciphersuites.c_str()))
    return fail(("bad TLS 1.3 ciphersuites '" + params.ciphersuites + "'").c_str());
  if (!SSL_CTX_set1_groups_list(c, params.groups.c_str()))
    return fail(("bad groups '" + params.groups + "'").c_str());

  uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                     SSL_OP_SINGLE_ECDH_USE | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
  // S12: OpenSSL 3 refuses client-initiated renegotiation unless told otherwise; the
  // refusal is a no_renegotiation alert, counted by the info callback.
  if (params.allowClientRenegotiation)
    options |= SSL_OP_ALLOW_CLIENT_RENEGOTIATION;
  else
    options |= SSL_OP_NO_RENEGOTIATION;
  SSL_CTX_set_options(c, options);
  // Idle connections give their 34 KiB of record buffers back; writes may be partial and
  // retried from a buffer that moved.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read whole socket buffers at once instead of a 5-byte header and then the body.
  SSL_CTX_set_read_ahead(c, 1);
  // Tickets and the session cache, the same on every context (S6, S11).
  installSessionResumption(c, params);
  ServerHandshake::installCallbacks(c);
  OcspStaple::installCallback(c);
  if (params.keyLog) params.keyLog->attach(c);
  if (params.verifyClientMode != SSL_VERIFY_NONE) {
    // Client certificates: signed by these CAs, whose names are sent in the request.
    // Read through the bounded reader (D4), not by OpenSSL's file functions.
    ossl::UniquePtr<STACK_OF(X509_NAME)> names(sk_X509_NAME_new_null());
    if (!names) return fail("out of memory");
    if (auto st = loadCaFile(SSL_CTX_get_cert_store(c), params.clientCaFile, names.get()); !st)
      return Error{"", 0, "verify_client_ca_certs: " + st.error().message};
    SSL_CTX_set_client_CA_list(c, names.release());  // the context owns the list
    ServerHandshake::installClientVerification(c, params.verifyClientMode);
  }
  return ctx;
}

}  // namespace tlsgate::tls
