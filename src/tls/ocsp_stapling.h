// OCSP stapling from files: ssl_multicert.config's ssl_ocsp_name names a DER OCSP response
// for the entry's certificate. It is read when the snapshot is built (so on every reload),
// checked against the certificate, and stapled when a client asks (status_request) — unless
// it has expired by then (nextUpdate in the past) or is not about the certificate served;
// those cases are counted and logged, and the handshake goes on without a staple.
#pragma once

#include <atomic>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "tls/cert_material.h"
#include "tls/ossl.h"

namespace tlsgate::tls {

class OcspStaple {
 public:
  // Reads `file` and checks it against every certificate of an entry (each leaf with its
  // issuer, found in the leaf's chain: the certificate file or ssl_ca_name). An unreadable
  // file, a response that does not parse or is not "successful" is an error (the caller adds
  // file:line); a response that matches no certificate, or has expired already, loads with
  // a warning in `warnings` and is then not stapled.
  static Result<std::unique_ptr<OcspStaple>> load(
      const std::string& file, const std::vector<std::shared_ptr<const CertMaterial>>& certs,
      std::vector<std::string>& warnings);
  // The same for a response already read, against the certificates `ctx` serves: `der` is
  // the file's content, `file` its name in messages (the text entry point the fuzzer drives).
  static Result<std::unique_ptr<OcspStaple>> fromDer(std::string der, const std::string& file,
                                                     SSL_CTX* ctx,
                                                     std::vector<std::string>& warnings);
  // Leaf and chain pairs.
  using Subjects = std::vector<std::pair<X509*, STACK_OF(X509)*>>;
  static Result<std::unique_ptr<OcspStaple>> fromDer(std::string der, const std::string& file,
                                                     const Subjects& subjects,
                                                     std::vector<std::string>& warnings);

  // Every server context calls back here when a client asks for a staple; the response is
  // the one of the entry the connection's handshake chose.
  static void installCallback(SSL_CTX* ctx);

  // For tests and logs.
  const std::string& file() const { return file_; }
  bool matches(const X509* leaf) const;
  std::time_t nextUpdate() const { return nextUpdate_; }

  int onStatusRequest(SSL* ssl) const;

 private:
  std::string file_;
  std::string der_;
  std::vector<ossl::UniquePtr<X509>> leafs_;  // the certificates the response is about
  std::time_t nextUpdate_ = 0;                // 0: the response gives none (never stale)
  mutable std::atomic<bool> warnedExpired_{false};
  mutable std::atomic<bool> warnedMismatch_{false};
};

}  // namespace tlsgate::tls
