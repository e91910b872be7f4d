// Wire trace (S21): every TLS message of a chosen connection, in and out, in the log.
//
// ssl.wire_trace filters the connections (WireTraceFilter below): a connection is
// traced when it matches every filter given. The client address (after a PROXY header, the
// client it names) and the sampling are decided when the session is created; a
// server_name filter can only be decided at the ClientHello callback, so such a session
// records its lines until then (the ClientHello itself, and the states before it) and
// prints them at that point if the name matches, or drops them if not: a traced
// connection's log always starts with its ClientHello. Without ssl.wire_trace nothing here
// runs.
//
// Lines (one log line each, with the client's address and port; an origin session adds the
// origin's):
//   tlsgate: wire_trace 127.0.0.1:53544 begins (local 127.0.0.1:8443)
//   tlsgate: wire_trace 127.0.0.1:53544 <- ClientHello (517 bytes, ja4 t13d...)
//   tlsgate: wire_trace 127.0.0.1:53544 state: SSLv3/TLS write server hello
//   tlsgate: wire_trace 127.0.0.1:53544 -> ServerHello (90 bytes)
//   tlsgate: wire_trace 127.0.0.1:53544 alert <- warning close notify
//   tlsgate: wire_trace 127.0.0.1:53544 origin 127.0.0.1:9443 -> ClientHello (307 bytes)
// "->" is what tlsgate sends, "<-" what it receives. Application data is not traced. The
// first ClientHello's line carries its JA4 fingerprint in full (tls/ja4.h; computed in the
// ClientHello callback, so the line waits for it); a second one (after a HelloRetryRequest)
// only its size.
//
// The trace belongs to the SSL (ex_data with a free function): it lives exactly as long
// as the session, whoever owns the session by then.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/address.h"
#include "net/cidr.h"
#include "tls/ossl.h"

namespace tlsgate::tls {

// Which connections are traced: those that match every filter given.
struct WireTraceFilter {
  std::optional<net::CidrSet> clientIp;  // absent: any client
  std::string serverName;                // lowercase; empty: any (also no SNI)
  unsigned percentage = 100;             // sampled among the connections that match
};

// Starts tracing the server session `ssl` of the client `peer` if `filter` lets it.
void startWireTrace(SSL* ssl, const WireTraceFilter& filter, const net::Address& peer,
                    const net::Address& local);

// In the ClientHello callback, with the name the client sent and the fingerprint of its
// ClientHello: the ClientHello's line goes out with the fingerprint, and a trace waiting for
// the server name starts or ends here.
void wireTraceClientHello(SSL* ssl, const std::string& sni, std::string_view ja4);

// Traces the origin session `origin` if the client session `client` is traced.
void traceOriginOf(const SSL* client, SSL* origin, const net::Address& originAddress);

}  // namespace tlsgate::tls
