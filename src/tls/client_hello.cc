#include "tls/client_hello.h"

#include <algorithm>
#include <cctype>

#include "tls/ja4.h"
#include "tls/ticket_offer.h"

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

namespace {

// `len` bytes of big-endian 16-bit values.
template <size_t N>
void readU16s(const unsigned char* p, size_t len, U16List<N>& out) {
  for (size_t i = 0; i + 1 < len; i += 2) out.push(static_cast<uint16_t>((p[i] << 8) | p[i + 1]));
}

// An extension that is a list of 16-bit values behind a length of `lengthBytes` (1 or 2).
template <size_t N>
void readU16Extension(SSL* ssl, unsigned type, size_t lengthBytes, U16List<N>& out) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (!SSL_client_hello_get0_ext(ssl, type, &p, &len) || len < lengthBytes) return;
  size_t listLen = lengthBytes == 1 ? p[0] : (size_t{p[0]} << 8) | p[1];
  readU16s(p + lengthBytes, std::min(listLen, len - lengthBytes), out);
}

}  // namespace

ClientHelloFacts readClientHello(SSL* ssl) {
  ClientHelloFacts facts;
  facts.sni = sniFromClientHello(ssl);
  facts.alpn = alpnFromClientHello(ssl);
  readU16Extension(ssl, TLSEXT_TYPE_supported_versions, 1, facts.versions);
  if (facts.versions.empty())
    facts.versions.push(static_cast<uint16_t>(SSL_client_hello_get0_legacy_version(ssl)));
  readU16Extension(ssl, TLSEXT_TYPE_supported_groups, 2, facts.groups);
  const unsigned char* ciphers = nullptr;
  const size_t cipherBytes = SSL_client_hello_get0_ciphers(ssl, &ciphers);
  readU16s(ciphers, cipherBytes, facts.ciphers);
  facts.keyShares = keySharesFromClientHello(ssl);
  facts.ja4 = ja4OfClientHello(ssl);
  facts.ticket = offeredTicket(ssl);
  return facts;
}

KeyShareGroups keySharesFromClientHello(SSL* ssl) {
  KeyShareGroups shares;
  const unsigned char* p = nullptr;
  size_t len = 0;
  // A 2-byte list length, then (group, 2-byte length, key) entries (RFC 8446 4.2.8).
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_key_share, &p, &len) || len < 2) return shares;
  size_t end = std::min(len, 2 + ((size_t{p[0]} << 8) | p[1]));
  for (size_t pos = 2; pos + 4 <= end;) {
    shares.push(static_cast<uint16_t>((p[pos] << 8) | p[pos + 1]));
    pos += 4 + ((size_t{p[pos + 2]} << 8) | p[pos + 3]);
  }
  return shares;
}

}  // namespace tlsgate::tls
