#include "proxy/destination.h"

#include <algorithm>

#include "core/text.h"

namespace tlsgate::proxy {

namespace {

constexpr std::string_view kInboundLocalPort = "{inbound_local_port}";
constexpr std::string_view kProxyProtocolPort = "{proxy_protocol_port}";

bool isHostName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace

bool hasTokens(std::string_view pattern) {
  return pattern.find('$') != std::string_view::npos || pattern.find('{') != std::string_view::npos;
}

Result<std::string> expandDestination(std::string_view pattern, const DestinationContext& ctx) {
  auto fail = [&](const std::string& why) {
    return Error{"", 0, "destination " + inQuotes(pattern) + ": " + why};
  };
  const size_t captures = ctx.captures ? ctx.captures->size() : 0;
  std::string out;
  out.reserve(pattern.size() + 32);
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '$') {
      const char n = i + 1 < pattern.size() ? pattern[i + 1] : '\0';
      if (n < '1' || n > '9') return fail("'$' must be followed by a capture number 1..9");
      const size_t index = static_cast<size_t>(n - '1');
      if (index >= captures) {
        return fail(concat({"$", std::string_view(&n, 1), " but the server name gave ",
                            std::to_string(captures), " capture(s)"}));
      }
      const std::string& capture = (*ctx.captures)[index];
      // The capture comes from the client's SNI: it must not bring ':' or '/' along.
      if (!isHostName(capture))
        return fail("capture " + inQuotes(capture) + " for $" + std::string(1, n) +
                    " is not a host name");
      out += capture;
      ++i;
    } else if (c == '{') {
      const auto rest = pattern.substr(i);
      uint16_t port = 0;
      std::string_view token;
      if (rest.starts_with(kInboundLocalPort)) {
        token = kInboundLocalPort;
        port = ctx.inboundLocalPort;
      } else if (rest.starts_with(kProxyProtocolPort)) {
        token = kProxyProtocolPort;
        port = ctx.proxyProtocolPort;
      } else {
        return fail("unknown token at " + inQuotes(rest));
      }
      if (port == 0) return fail(std::string(token) + " is not known for this connection");
      out += std::to_string(port);
      i += token.size() - 1;
    } else {
      out += c;
    }
  }
  if (out.empty() || out.front() == ':') return fail("the host is empty");
  return out;
}

}  // namespace tlsgate::proxy
