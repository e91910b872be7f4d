// ConnectionError: why a connection ended, when not because its data phase finished
// cleanly (the access log's "outcome").
#pragma once

#include <cstdint>

#include "tls/handshake_owner.h"

namespace tlsgate::proxy {

// Why a connection ended, when not because its data phase finished cleanly.
enum class ConnectionError : uint8_t {
  kNone,
  kClientClosed,         // EOF or socket error before the TLS handshake started
  kProxyRefused,         // PROXY header expected from a source not allowed to send one
  kProxyInvalid,         // bad or incomplete PROXY header
  kHandshakeTimeout,     // S1
  kHandshakeEof,         // S8
  kHandshakeFailed,      // any other S4 failure (protocol error, syscall, too large...)
  kNoCertificate,        // S11
  kClientCertificate,    // the client's certificate did not verify
  kDenied,               // sni.yaml ip_allow
  kAdmissionRefused,     // admission control: a rule, a limit, a bound or load shedding
  kHookError,            // a hook re-enabled with an error, or refused the origin
  kHookTerminated,       // a hook closed the connection
  kNoTunnelDestination,  // a tunnel to this listener itself
  kResolveFailed,
  kConnectFailed,
  kConnectTimeout,  // connect_timeout: resolving or connecting took too long
  kOriginHandshakeFailed,
  kOriginHandshakeTimeout,
  kNoEndpoint,         // S14: no endpoint for the negotiated protocol
  kRelayFailed,        // socket or TLS error while relaying
  kTunnelFailed,       // socket error in a blind tunnel
  kTunnelIdleTimeout,  // tunnel.inactivity_timeout
  kRelayIdleTimeout,   // relay.inactivity_timeout
  kInspectTimeout,     // inspect.request_timeout
  kShutdown,           // the worker stopped
};

const char* toString(ConnectionError e);
// The class of a failed or timed-out inbound handshake.
ConnectionError fromHandshakeError(tls::HandshakeError e);

}  // namespace tlsgate::proxy
