// ConnectionRecord: what one connection did, filled as it progresses and read once at
// close, for the access log line and the per-listener outcome counts (README "Access log",
// "Metrics"). The metrics and the log come from this one record, so they always agree.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "net/address.h"
#include "proxy/connection_error.h"
#include "proxy/route_table.h"
#include "stats/listener_stats.h"
#include "tls/cert_store.h"
#include "tls/server_handshake.h"

namespace tlsgate::proxy {

struct ConnectionRecord {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  // The inbound handshake, once it ended (successfully or not).
  bool handshakeRecorded = false;
  bool handshakeDone = false;
  std::string sni;
  std::string alpn;
  std::string ja4;                // of the ClientHello, once read (also for a tunnel decided there)
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
