// What the store needs to know of a certificate, read from its DER without building an X509.
//
// OpenSSL 3.0 decodes a certificate's public key through a decoder chain it builds anew for
// every certificate: d2i_X509 costs about 0.1 ms, most of loading a certificate (issue 19's
// profile). The store needs the names, the expiry, the subject and the public key's bytes,
// and the pieces that hold them (Name, Time, Extensions) decode without that chain. So the
// leaf's TBSCertificate is walked here and only those pieces are decoded.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tls/ossl.h"

namespace tlsgate::tls {

struct CertFacts {
  std::vector<std::string> names;  // subject CN, then DNS SANs; lowercase, once each
  std::string subject;             // RFC 2253
  std::time_t notAfter = 0;
  std::string_view publicKey;  // the SubjectPublicKeyInfo DER, inside the given certificate
};

// Nothing when `der` is not a certificate this walk understands; the caller then parses it
// with d2i_X509 (which says what is wrong, or accepts what this walk does not).
std::optional<CertFacts> certFactsOfDer(std::string_view der);

// The same facts of a parsed certificate (publicKey left empty).
CertFacts certFactsOf(X509* cert);

// Subject CN and DNS SANs, lowercase, once each.
std::vector<std::string> namesOf(const X509_NAME* subject, const GENERAL_NAMES* sans);
std::string rfc2253(const X509_NAME* name);
// "RSA-2048", "EC-prime256v1", ...
std::string keyTypeOf(EVP_PKEY* key);

}  // namespace tlsgate::tls
