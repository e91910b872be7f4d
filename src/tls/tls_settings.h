// The TLS settings that configuration files name and the TLS layer applies: protocol
// versions, client certificate levels, origin verification.
#pragma once

#include <openssl/ssl.h>

namespace tlsgate::tls {

enum class TlsVersion { kTls12, kTls13 };

inline int protocolVersion(TlsVersion v) {
  return v == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

// ATS's verify_client levels: NONE requests no client certificate; MODERATE verifies one
// that is presented but lets a client without one in; STRICT requires one.
enum class VerifyClient { kNone, kModerate, kStrict };

// The SSL_VERIFY_* mode of a level.
inline int verifyMode(VerifyClient v) {
  switch (v) {
    case VerifyClient::kNone:
      return SSL_VERIFY_NONE;
    case VerifyClient::kModerate:
      return SSL_VERIFY_PEER;
    case VerifyClient::kStrict:
      return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  return SSL_VERIFY_NONE;
}

// ATS's proxy.config.ssl.client.verify.server.policy: what a failed origin verification
// does. ENFORCED ends the connection; PERMISSIVE logs, counts and goes on; DISABLED checks
// nothing.
enum class VerifyServerPolicy { kEnforced, kPermissive, kDisabled };
// ...verify.server.properties: what is checked. SIGNATURE: the chain; NAME: the leaf's name
// (or IP); ALL: both; NONE: neither.
enum class VerifyServerProperties { kNone, kSignature, kName, kAll };

}  // namespace tlsgate::tls
