#include "tls/session_tickets.h"

#include <openssl/core_names.h>
#include <openssl/rand.h>

#include <cstring>

#include "core/log.h"
#include "tls/server_handshake.h"
#include "tls/ticket_keys.h"

namespace tlsgate::tls {

using stats::Counter;

namespace {

// OpenSSL's default number of TLS 1.3 tickets after a full handshake (ATS's default too).
constexpr size_t kDefaultTicketNumber = 2;

int storeIndex() {  // SSL_CTX → its snapshot's TicketKeyStore (borrowed)
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int ticketResumedIndex() {  // SSL → non-null once a ticket of ours was accepted
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Fetched once: an implicit fetch by EVP_aes_128_cbc() on every ticket costs a lookup.
const EVP_CIPHER* aes128Cbc() {
  static const ossl::UniquePtr<EVP_CIPHER> cipher(
      EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr));
  return cipher.get();
}

bool setHmacKey(EVP_MAC_CTX* hctx, const TicketKey& key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(
                             OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmacSecret.data()),
                             key.hmacSecret.size()),
                         OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

void count(SSL* ssl, Counter c) {
  if (stats::CounterBlock* counters = ServerHandshake::countersOf(ssl)) counters->add(c);
}

// SSL_CTX_set_tlsext_ticket_key_evp_cb: 1 = done (decrypt: valid key), 2 = valid but
// renew the ticket, 0 = encrypt: no ticket / decrypt: unknown key (full handshake), -1 = error.
int ticketKeyCallback(SSL* ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                      EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* hmac, int encrypt) {
  const auto* store =
      static_cast<const TicketKeyStore*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), storeIndex()));
  if (!store) return 0;  // a context that is not ours (a plugin's): no tickets
  const TicketKeyRing& ring = store->current();  // lock-free unless the ring changed
  if (ring.keys.empty()) return 0;
  if (encrypt) {
    const TicketKey& key = ring.keys[0];
    const int ivLength = EVP_CIPHER_get_iv_length(aes128Cbc());
    if (RAND_bytes(iv, ivLength) != 1 ||
        EVP_EncryptInit_ex(cipher, aes128Cbc(), nullptr, key.aesKey.data(), iv) != 1 ||
        !setHmacKey(hmac, key))
      return -1;
    std::memcpy(name, key.name.data(), key.name.size());
    count(ssl, Counter::kSslTicketCreated);
    return 1;
  }
  const TicketKey* key = ring.find(name);
  if (!key) {
    count(ssl, Counter::kSslTicketNotFound);
    return 0;
  }
  if (!setHmacKey(hmac, *key) ||
      EVP_DecryptInit_ex(cipher, aes128Cbc(), nullptr, key->aesKey.data(), iv) != 1)
    return -1;
  SSL_set_ex_data(ssl, ticketResumedIndex(), ssl);
  count(ssl, Counter::kSslTicketVerified);
  if (key == &ring.keys[0]) return 1;
  count(ssl, Counter::kSslTicketVerifiedOldKey);
  return 2;  // an older key: the client gets a ticket under keys[0]
}

// Called by OpenSSL when a session ID is not in the internal cache (there is no external
// one): the miss counter.
SSL_SESSION* sessionCacheMiss(SSL* ssl, const unsigned char*, int, int* copy) {
  *copy = 0;
  count(ssl, Counter::kSslSessionCacheMisses);
  return nullptr;
}

}  // namespace

void installSessionResumption(SSL_CTX* ctx, const ServerParams& params) {
  SSL_CTX_set_timeout(ctx, static_cast<long>(params.sessionTimeout.count()));
  // The same session ID context on every context: a session made on one is valid on the
  // context a connection switched to (and client verification requires one).
  static const unsigned char kSessionContext[] = "tlsgate";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  if (params.sessionCache) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, params.sessionCacheSize);
    SSL_CTX_sess_set_get_cb(ctx, sessionCacheMiss);
  } else {
    // No session-ID cache by default (as ATS): TLS 1.3 and ticket resumption are stateless.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  }
  if (params.ticketKeys) {
    SSL_CTX_set_ex_data(ctx, storeIndex(), params.ticketKeys);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticketKeyCallback);
  }
}

namespace {

// The same settings on a context or on one connection: OpenSSL has a function for each.
void setNoTicket(SSL_CTX* c, bool on) {
  on ? SSL_CTX_set_options(c, SSL_OP_NO_TICKET) : SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
}
void setNoTicket(SSL* s, bool on) {
  on ? SSL_set_options(s, SSL_OP_NO_TICKET) : SSL_clear_options(s, SSL_OP_NO_TICKET);
}
size_t numTickets(const SSL_CTX* c) {
  return SSL_CTX_get_num_tickets(c);
}
size_t numTickets(const SSL* s) {
  return SSL_get_num_tickets(s);
}
void setNumTickets(SSL_CTX* c, size_t n) {
  SSL_CTX_set_num_tickets(c, n);
}
void setNumTickets(SSL* s, size_t n) {
  SSL_set_num_tickets(s, n);
}
bool cacheOff(SSL_CTX* c) {
  return SSL_CTX_get_session_cache_mode(c) == SSL_SESS_CACHE_OFF;
}
bool cacheOff(SSL* s) {
  return cacheOff(SSL_get_SSL_CTX(s));
}

template <class T>
void applyTo(T* t, const TicketSettings& settings) {
  if (settings.enabled == false) {
    setNoTicket(t, true);
    if (!settings.number && cacheOff(t)) setNumTickets(t, 0);
  } else if (settings.enabled == true) {
    setNoTicket(t, false);
    if (!settings.number && numTickets(t) == 0) setNumTickets(t, kDefaultTicketNumber);
  }
  if (settings.number) setNumTickets(t, static_cast<size_t>(*settings.number));
}

}  // namespace

void applyTicketSettings(SSL_CTX* ctx, const TicketSettings& settings) {
  applyTo(ctx, settings);
}

void applyTicketSettings(SSL* ssl, const TicketSettings& settings) {
  applyTo(ssl, settings);
}

void copyTicketSettings(SSL* ssl, const SSL_CTX* from) {
  setNoTicket(ssl, (SSL_CTX_get_options(from) & SSL_OP_NO_TICKET) != 0);
  setNumTickets(ssl, numTickets(from));
}

void countSessionReuse(SSL* ssl, stats::CounterBlock& counters) {
  if (SSL_session_reused(ssl) && !SSL_get_ex_data(ssl, ticketResumedIndex()))
    counters.add(Counter::kSslSessionCacheHits);
}

}  // namespace tlsgate::tls
