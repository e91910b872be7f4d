#include "tls/ticket_offer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace tlsgate::tls {

namespace {

constexpr unsigned kPreSharedKey = 41;  // RFC 8446 4.2.11
constexpr size_t kNameBytes = 16;
constexpr size_t kIvBytes = 16;
constexpr size_t kMacBytes = 32;

size_t u16(const unsigned char* p) {
  return (size_t{p[0]} << 8) | p[1];
}

}  // namespace

std::string offeredTicket(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_session_ticket, &p, &len) && len > 0)
    return std::string(reinterpret_cast<const char*>(p), len);
  // identities: a 2-byte length, then (2-byte length, identity, 4-byte obfuscated age).
  if (!SSL_client_hello_get0_ext(ssl, kPreSharedKey, &p, &len) || len < 4) return {};
  const size_t identitiesLen = u16(p);
  const size_t identityLen = u16(p + 2);
  if (identitiesLen + 2 > len || identityLen + 4 > identitiesLen + 2 || identityLen == 0) return {};
  return std::string(reinterpret_cast<const char*>(p + 4), identityLen);
}

bool ticketSealedBy(const TicketKeyRing& ring, std::string_view ticket) {
  if (ticket.size() < kNameBytes + kIvBytes + kMacBytes) return false;
  const auto* bytes = reinterpret_cast<const unsigned char*>(ticket.data());
  const TicketKey* key = ring.find(bytes);
  if (!key) return false;
  const size_t sealed = ticket.size() - kMacBytes;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned macLen = 0;
  if (!HMAC(EVP_sha256(), key->hmacSecret.data(), static_cast<int>(key->hmacSecret.size()), bytes,
            sealed, mac, &macLen) ||
      macLen != kMacBytes)
    return false;
  return CRYPTO_memcmp(mac, bytes + sealed, kMacBytes) == 0;
}

}  // namespace tlsgate::tls
