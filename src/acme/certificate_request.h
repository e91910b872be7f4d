// The X.509 side of ACME: the certificate's new private key and its CSR (RFC 8555 section
// 7.4), the self-signed tls-alpn-01 challenge certificate (RFC 8737 section 3), and what
// the client needs to know of an issued certificate (validity, names, ARI certID).
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "core/result.h"

namespace tlsgate::acme {

enum class KeyType { kEcdsaP256, kRsa2048 };

// A fresh private key, PKCS#8 PEM.
Result<std::string> newPrivateKeyPem(KeyType type);

// A DER CSR for `names` signed with the key in `keyPem`: every name a DNS SAN, the first
// also the subject CN when it fits the 64-character CN limit.
Result<std::string> makeCsrDer(const std::vector<std::string>& names, const std::string& keyPem);

struct PemPair {
  std::string certPem, keyPem;
};

// The tls-alpn-01 certificate for `name` (RFC 8737 section 3): self-signed with a new P-256
// key, `name` its only dNSName, the critical id-pe-acmeIdentifier extension holding the
// DER OCTET STRING of SHA-256(keyAuthorization); valid from an hour ago for 7 days.
Result<PemPair> tlsAlpnChallengeCertificate(const std::string& name,
                                            const std::string& keyAuthorization);

// id-pe-acmeIdentifier (RFC 8737 section 6.1).
inline constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

struct CertFacts {
  std::time_t notBefore = 0, notAfter = 0;
  std::vector<std::string> names;  // the leaf's DNS SANs
  // RFC 9773 section 4.1: base64url(AKI keyIdentifier) "." base64url(serial's DER content
  // octets); empty when the leaf has no authority key identifier.
  std::string ariCertId;
};

// The facts of the leaf (the first certificate) of `chainPem`.
Result<CertFacts> certFacts(const std::string& chainPem);

}  // namespace tlsgate::acme
