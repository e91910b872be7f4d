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
#include "tls/ossl.h"

namespace tlsgate::tls {

class OcspStaple {
 public:
  // Reads `file` and checks it against every certificate `ctx` serves (each leaf with its
  // issuer, found in the leaf's chain: the certificate file or ssl_ca_name). An unreadable
  // file, a response that does not parse or is not "successful" is an error (the caller adds
  // file:line); a response that matches no certificate, or has expired already, loads with
  // a warning in `warnings` and is then not stapled.
  static Result<std::unique_ptr<OcspStaple>> load(const std::string& file, SSL_CTX* ctx,
                                                  std::vector<std::string>& warnings);
  // The same for a response already read: `der` is the file's content, `file` its name in
  // messages (the text entry point the fuzzer drives).
  static Result<std::unique_ptr<OcspStaple>> fromDer(std::string der, const std::string& file,
                                                     SSL_CTX* ctx,
                                                     std::vector<std::string>& warnings);

  // Sets the status callback of `ctx` to staple this response (the SSL's context at the
  // time OpenSSL asks: the entry's, after the certificate selection switched to it).
  void install(SSL_CTX* ctx) const;

  // For tests and logs.
  const std::string& file() const { return file_; }
  bool matches(const X509* leaf) const;
  std::time_t nextUpdate() const { return nextUpdate_; }

 private:
  friend struct OcspCallbacks;
  int onStatusRequest(SSL* ssl) const;

  std::string file_;
  std::string der_;
  std::vector<const X509*> leafs_;  // the certificates the response is about
  std::time_t nextUpdate_ = 0;      // 0: the response gives none (never stale)
  mutable std::atomic<bool> warnedExpired_{false};
  mutable std::atomic<bool> warnedMismatch_{false};
};

}  // namespace tlsgate::tls
