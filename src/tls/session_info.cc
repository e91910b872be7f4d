#include "tls/session_info.h"

#include <algorithm>
#include <cctype>

#include "tls/cert_loader.h"

namespace tlsgate::tls {

SessionInfo describeSession(SSL* ssl, const CertInfo* info) {
  SessionInfo s;
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) s.sni = sni;
  const unsigned char* alpn = nullptr;
  unsigned alpnLen = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpnLen);
  if (alpn) s.alpn.assign(reinterpret_cast<const char*>(alpn), alpnLen);
  s.version = SSL_get_version(ssl);
  s.cipher = SSL_get_cipher_name(ssl);
  s.group = negotiatedGroup(ssl);
  X509* served = SSL_get_certificate(ssl);
  if (info) {
    s.certSubject = info->subject;
    s.certSha256 = info->sha256;
  } else if (served) {  // not from ssl_multicert.config: a plugin's (tlsgate_vconn_use_cert)
    s.certSubject = certificateSubject(served);
    s.certSha256 = certificateSha256(served);
  }
  s.resumed = SSL_session_reused(ssl) == 1;
  return s;
}

std::string negotiatedGroup(SSL* ssl) {
  std::string name;
  int group = SSL_get_negotiated_group(ssl);
  if (group == 0 || group == NID_undef) return name;
  if (const char* text = SSL_group_to_name(ssl, group)) name = text;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return name;
}

}  // namespace tlsgate::tls
