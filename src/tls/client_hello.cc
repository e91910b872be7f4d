#include "tls/client_hello.h"

#include <algorithm>
#include <cctype>

namespace tlsgate::tls {

std::string sniFromClientHello(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  // server_name: a 2-byte list length, then (type, 2-byte length, name) entries.
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 5) return {};
  size_t listLen = (size_t{p[0]} << 8) | p[1];
  if (listLen + 2 > len || p[2] != TLSEXT_NAMETYPE_host_name) return {};
  size_t nameLen = (size_t{p[3]} << 8) | p[4];
  if (nameLen + 5 > len) return {};
  std::string name(reinterpret_cast<const char*>(p + 5), nameLen);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string alpnFromClientHello(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  // The extension body is a 2-byte length and then the wire-format list.
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                 &len) ||
      len <= 2)
    return {};
  return std::string(reinterpret_cast<const char*>(p + 2), len - 2);
}

KeyShareGroups keySharesFromClientHello(SSL* ssl) {
  KeyShareGroups shares;
  const unsigned char* p = nullptr;
  size_t len = 0;
  // A 2-byte list length, then (group, 2-byte length, key) entries (RFC 8446 4.2.8).
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_key_share, &p, &len) || len < 2) return shares;
  size_t end = std::min(len, 2 + ((size_t{p[0]} << 8) | p[1]));
  for (size_t pos = 2; pos + 4 <= end && shares.count < KeyShareGroups::kMax;) {
    shares.ids[shares.count++] = static_cast<uint16_t>((p[pos] << 8) | p[pos + 1]);
    pos += 4 + ((size_t{p[pos + 2]} << 8) | p[pos + 3]);
  }
  return shares;
}

}  // namespace tlsgate::tls
