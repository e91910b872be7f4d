// The session ticket a ClientHello offers, and whether it is one of ours: a handshake that
// will resume costs a fraction of a full one, and load shedding lets it through
// (proxy/admission.h). Read inside OpenSSL's ClientHello callback, before OpenSSL decrypts
// the ticket itself.
#pragma once

#include <string>
#include <string_view>

#include "tls/ossl.h"
#include "tls/ticket_keys.h"

namespace tlsgate::tls {

// TLS 1.2's session_ticket extension, else the first identity of TLS 1.3's pre_shared_key;
// "" when the ClientHello offers none.
std::string offeredTicket(SSL* ssl);

// Whether `ticket` was sealed by a key of `ring`: its key name is the ring's and its
// HMAC-SHA256 is right (a name alone is public: every ticket shows it). OpenSSL's layout:
// key name (16) | IV (16) | ciphertext | HMAC (32). A genuine ticket may still not resume
// (expired, or for another name): the handshake then is a full one and is charged as such.
bool ticketSealedBy(const TicketKeyRing& ring, std::string_view ticket);

}  // namespace tlsgate::tls
