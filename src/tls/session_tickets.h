// Session resumption on the server side: the session ticket key callback, the TLS 1.2
// session ID cache, and the per-certificate / per-name ticket settings (S11).
//
// OpenSSL reads the ticket callback, the session cache and the session timeout from the
// context the SSL was created on (its session_ctx: the trampoline, S6), and the ticket
// options and TLS 1.3 ticket count from the SSL itself (copied from that same context at
// SSL_new, untouched by SSL_set_SSL_CTX). So every server context gets the same callback and
// cache settings, and a certificate's own ticket settings are copied onto the connection
// when its entry is known: at the ClientHello, before OpenSSL looks at the client's ticket.
#pragma once

#include <optional>

#include "stats/counters.h"
#include "tls/ossl.h"
#include "tls/server_params.h"

namespace tlsgate::tls {

// installSessionResumption sets the session timeout, the session ID context, the session
// cache (off unless params.sessionCache) and, with params.ticketKeys, the ticket key
// callback: AES-128-CBC + HMAC-SHA256 with the store's ring (as ATS), keys[0] encrypting;
// a ticket of another key of the ring is accepted and renewed; an unknown key name means a
// full handshake.
void installSessionResumption(SSL_CTX* ctx, const ServerParams& params);

// ssl_ticket_enabled / ssl_ticket_number (ssl_multicert.config, sni.yaml). Disabled means no
// stateless tickets (SSL_OP_NO_TICKET) and, unless a number is given or the session cache
// is on, no TLS 1.3 ticket at all (a stateful one would resume nothing without a cache).
struct TicketSettings {
  std::optional<bool> enabled;
  std::optional<int> number;
};
void applyTicketSettings(SSL_CTX* ctx, const TicketSettings& settings);
void applyTicketSettings(SSL* ssl, const TicketSettings& settings);
// copyTicketSettings gives `ssl` the ticket settings of `from` (a certificate entry's
// context), which SSL_set_SSL_CTX would not.
void copyTicketSettings(SSL* ssl, const SSL_CTX* from);

// countSessionReuse counts a handshake that resumed from the session cache (not from a
// ticket) once it is done.
void countSessionReuse(SSL* ssl, stats::CounterBlock& counters);

}  // namespace tlsgate::tls
