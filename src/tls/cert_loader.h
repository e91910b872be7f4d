// Reading certificates and keys from PEM files into an SSL_CTX.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tls/cert_material.h"
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

// The same from PEM text in memory (leaf, then its chain; the key): `what` names it in errors.
Result<LoadedCert> loadCertificatePem(SSL_CTX* ctx, std::string_view certPem,
                                      std::string_view keyPem, const std::string& what);

// A certificate parsed from memory, not yet served by any context.
struct ParsedCert {
  ossl::UniquePtr<X509> leaf;
  ossl::UniquePtr<EVP_PKEY> key;
  ossl::UniquePtr<STACK_OF(X509)> chain;  // the certificates after the leaf (maybe empty)
};

// Parses a certificate PEM (its chain may follow the leaf) and a key PEM, and checks that
// they match. Safe on any thread.
Result<ParsedCert> parseCertificatePem(std::string_view certPem, std::string_view keyPem);

// The files behind the loaders above, read through the bounded reader (core/read_file.h):
// a FIFO, a device or an oversized file fails at once. The certificates of a PEM file (the
// first is the leaf), the unencrypted private key of a PEM file, and the CAs (and CRLs) of a
// PEM file added to `store` and, when `names` is given, their subjects to `names` (the
// list a server sends when it asks for a client certificate). Errors name the file.
Result<std::vector<ossl::UniquePtr<X509>>> readCertificateFile(const std::string& file,
                                                               size_t maxBytes);
Result<ossl::UniquePtr<EVP_PKEY>> readPrivateKeyFile(const std::string& file);
Status loadCaFile(X509_STORE* store, const std::string& file,
                  STACK_OF(X509_NAME) * names = nullptr);

// Subject (RFC 2253) and SHA-256 fingerprint (lowercase hex) of a certificate.
std::string certificateSubject(X509* cert);
std::string certificateSha256(X509* cert);

// Names a certificate answers to: subject CN and DNS SANs, lowercase.
std::vector<std::string> certificateNames(X509* cert);

}  // namespace tlsgate::tls
