// Reading certificates and keys from PEM files into an SSL_CTX.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tls/cert_store.h"
#include "tls/ossl.h"

namespace tlsgate::tls {

// Loads one certificate (the first in `certFile`; the ones after it are its chain), its key
// (from `keyFile`, or from `certFile` when empty) and the extra chain certificates of
// `chainFiles` into `ctx`, and checks that key and certificate match. The error message says
// which file and why; the caller adds file:line of the config.
struct LoadedCert {
  CertInfo info;
  ossl::UniquePtr<X509> leaf;  // the object the context now serves
};

Result<LoadedCert> loadCertificate(SSL_CTX* ctx, const std::string& certFile,
                                   const std::string& keyFile,
                                   const std::vector<std::string>& chainFiles);

// The same from memory: a certificate PEM (chain after the leaf) and a key PEM.
Result<LoadedCert> loadCertificatePem(SSL_CTX* ctx, std::string_view certPem,
                                      std::string_view keyPem);

// Names a certificate answers to: subject CN and DNS SANs, lowercase.
std::vector<std::string> certificateNames(X509* cert);

}  // namespace tlsgate::tls
