// What can be read off a ClientHello inside OpenSSL's ClientHello callback, before
// SSL_get_servername() and friends are set. The server handshake reads the facts of a
// ClientHello once (readClientHello) and hands them to whoever decides (the route, the
// hooks, the wire trace): nobody reads the SSL for them again.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tls/ossl.h"

namespace tlsgate::tls {

// The host_name of the server_name extension, lowercased; "" when there is none or it is
// malformed (OpenSSL rejects a malformed one later anyway).
std::string sniFromClientHello(SSL* ssl);

// The client's ALPN protocol list in wire format (length-prefixed names); "" when none.
std::string alpnFromClientHello(SSL* ssl);

// The groups of the key_share extension's entries, in the client's order (TLS 1.3; none
// without the extension). A client answering a HelloRetryRequest sends other shares than
// in its first ClientHello: that is how the server side tells the second one apart.
struct KeyShareGroups {
  static constexpr size_t kMax = 8;  // clients send one to three; more are not kept
  std::array<uint16_t, kMax> ids{};
  size_t count = 0;
  bool operator==(const KeyShareGroups&) const = default;
};
KeyShareGroups keySharesFromClientHello(SSL* ssl);

// The facts of one ClientHello.
struct ClientHelloFacts {
  std::string sni;                 // as sniFromClientHello
  std::string alpn;                // offered, wire format, as alpnFromClientHello
  std::vector<uint16_t> versions;  // supported_versions, else the legacy version alone
  std::vector<uint16_t> groups;    // supported_groups, in the client's order
  std::vector<uint16_t> ciphers;   // cipher suites, in the client's order
  KeyShareGroups keyShares;
};
ClientHelloFacts readClientHello(SSL* ssl);

}  // namespace tlsgate::tls
