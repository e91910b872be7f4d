// What can be read off a ClientHello inside OpenSSL's ClientHello callback, before
// SSL_get_servername() and friends are set.
#pragma once

#include <array>
#include <cstdint>
#include <string>

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

}  // namespace tlsgate::tls
