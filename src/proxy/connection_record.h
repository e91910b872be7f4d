// ConnectionRecord: what one connection did, filled as it progresses and read once at
// close, for the access log line and the per-listener outcome counts (README "Access log",
// "Metrics"). The metrics and the log come from this one record, so they always agree.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "net/address.h"
#include "proxy/route_table.h"
#include "stats/listener_stats.h"
#include "tls/cert_store.h"
#include "tls/server_handshake.h"

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
  kHookError,            // a hook re-enabled with an error, or refused the origin
  kHookTerminated,       // a hook closed the connection
  kNoTunnelDestination,  // a tunnel to this listener itself
  kResolveFailed,
  kConnectFailed,
  kOriginHandshakeFailed,
  kOriginHandshakeTimeout,
  kNoEndpoint,         // S14: no endpoint for the negotiated protocol
  kRelayFailed,        // socket or TLS error while relaying
  kTunnelFailed,       // socket error in a blind tunnel
  kTunnelIdleTimeout,  // tunnel.inactivity_timeout
  kShutdown,           // the worker stopped
};

const char* toString(ConnectionError e);
// The class of a failed or timed-out inbound handshake.
ConnectionError fromHandshakeError(tls::HandshakeError e);

struct ConnectionRecord {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  // The inbound handshake, once it ended (successfully or not).
  bool handshakeRecorded = false;
  bool handshakeDone = false;
  std::string sni;
  std::string alpn;
  const char* version = nullptr;  // OpenSSL's static strings
  const char* cipher = nullptr;
  std::string group;                    // key exchange group, lowercase ("x25519mlkem768")
  bool helloRetry = false;              // the client answered a HelloRetryRequest
  const tls::CertInfo* cert = nullptr;  // owned by the connection's snapshot
  std::chrono::microseconds handshakeTime{0};
  // Where the connection went: the endpoint kind once decided, and its address.
  std::optional<EndpointKind> route;
  std::string upstream;
  // The data phase reached (kError: none) and why the connection ended.
  stats::Outcome outcome = stats::Outcome::kError;
  ConnectionError error = ConnectionError::kNone;
  uint64_t bytesIn = 0;   // from the client (plaintext when terminated, raw when tunnelled)
  uint64_t bytesOut = 0;  // to the client

  // The access log's "outcome": done, tunnel, or the error class.
  const char* outcomeText() const;
  // One JSON line, '\n' included (README "Access log" lists the fields).
  std::string toJsonLine(const net::Address& client, const net::Address& local,
                         std::chrono::system_clock::time_point now) const;
};

}  // namespace tlsgate::proxy
