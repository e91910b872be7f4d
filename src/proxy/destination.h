// Destinations with per-connection parts: `host:port` patterns of sni.yaml whose host may
// hold $1..$9 (the labels a wildcard fqdn captured) and whose port may be
// {inbound_local_port} (the port the client connected to) or {proxy_protocol_port} (the
// destination port of the client's PROXY protocol header).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tlsgate::proxy {

// What a destination pattern is expanded with, per connection.
struct DestinationContext {
  const std::vector<std::string>* captures = nullptr;  // NameMatch::captures; null = none
  uint16_t inboundLocalPort = 0;                       // 0 = unknown
  uint16_t proxyProtocolPort = 0;                      // 0 = unknown (no PROXY protocol header)
};

// Whether `pattern` has per-connection parts ($N or a {port} token).
bool hasTokens(std::string_view pattern);

// Substitutes $1..$9 and {inbound_local_port} / {proxy_protocol_port}. Errors: $N beyond the
// captures, a port token whose port is unknown (0), a capture that is not a host name (the
// client chose it: it must not be able to inject ':' or '/'), an empty host after expansion.
Result<std::string> expandDestination(std::string_view pattern, const DestinationContext& ctx);

}  // namespace tlsgate::proxy
