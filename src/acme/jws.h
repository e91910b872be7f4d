// The signed requests of ACME (RFC 8555 section 6.2): the account key, its JWK and
// thumbprint (RFC 7638), ES256 signatures (RFC 7518 section 3.4) and the flattened JWS
// JSON serialization (RFC 7515 section 7.2.2) every POST to an ACME server carries.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "tls/ossl.h"

namespace tlsgate::acme {

// base64url: base64 with the URL-safe alphabet and no '=' padding (RFC 7515 section 2).
std::string base64url(std::string_view bytes);

// AccountKey: the ECDSA P-256 key an ACME account is known by (ES256). Copies share the
// one immutable OpenSSL key.
class AccountKey {
 public:
  static Result<AccountKey> generate();
  // Errors name `what` (the file the PEM came from): not a key, or not a P-256 key.
  static Result<AccountKey> fromPem(const std::string& pem, const std::string& what);

  AccountKey(const AccountKey& other);
  AccountKey& operator=(const AccountKey& other);
  AccountKey(AccountKey&&) = default;
  AccountKey& operator=(AccountKey&&) = default;

  // The private key, PKCS#8 PEM.
  std::string toPem() const;
  // The public key as a JWK with exactly the members RFC 7638 section 3.2 keeps, in its
  // canonical form: {"crv":"P-256","kty":"EC","x":"...","y":"..."}.
  std::string jwk() const;
  // base64url(SHA-256(jwk())): the RFC 7638 thumbprint.
  std::string thumbprint() const;
  // ES256 over `signingInput`: base64url of the 64 bytes r || s (RFC 7518 section 3.4),
  // not the DER that OpenSSL produces.
  Result<std::string> sign(std::string_view signingInput) const;

 private:
  explicit AccountKey(ossl::UniquePtr<EVP_PKEY> key);
  ossl::UniquePtr<EVP_PKEY> key_;
};

// The body of a POST to `url`: {"protected","payload","signature"}. The protected header
// holds alg ES256, the nonce, the url and either the account's `kid` or, when kid is
// empty (newAccount), the jwk. payloadJson nullopt is a POST-as-GET: an empty payload.
Result<std::string> jwsBody(const AccountKey& key, const std::string& url, const std::string& nonce,
                            const std::string& kid, const std::optional<std::string>& payloadJson);

// token "." thumbprint (RFC 8555 section 8.1).
std::string keyAuthorization(const std::string& token, const AccountKey& key);

// SHA-256 of `bytes`, the 32 raw bytes.
std::string sha256(std::string_view bytes);

}  // namespace tlsgate::acme
