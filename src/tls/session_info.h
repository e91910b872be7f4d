// SessionInfo: what was negotiated on an established server connection, for the inspect
// endpoint and the logs.
#pragma once

#include <string>

#include "tls/cert_material.h"
#include "tls/ossl.h"

namespace tlsgate::tls {

struct SessionInfo {
  std::string sni;
  std::string alpn;
  std::string version;
  std::string cipher;
  std::string group;  // key exchange group, lowercase OpenSSL name ("x25519")
  std::string certSubject;
  std::string certSha256;
  bool resumed = false;
};

// `served`: what the store knows of the certificate served (ServerHandshake::servedInfo);
// null: read from the certificate itself (a plugin's).
SessionInfo describeSession(SSL* ssl, const CertInfo* served = nullptr);

// The negotiated key exchange group, lowercase OpenSSL name ("x25519mlkem768"); "" if none.
std::string negotiatedGroup(SSL* ssl);

}  // namespace tlsgate::tls
