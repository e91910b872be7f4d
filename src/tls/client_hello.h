// What can be read off a ClientHello inside OpenSSL's ClientHello callback, before
// SSL_get_servername() and friends are set. The server handshake reads the facts of a
// ClientHello once (readClientHello) and hands them to whoever decides (the route, the
// hooks, the wire trace): nobody reads the SSL for them again.
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

// Up to N 16-bit values of a ClientHello list (cipher suites, groups, versions, key share
// groups), in the client's order, kept inline: reading a ClientHello allocates nothing for
// them. `total` is how many the client sent, so a longer list shows that it was cut.
template <size_t N>
struct U16List {
  std::array<uint16_t, N> ids{};
  uint16_t count = 0;
  uint16_t total = 0;

  void push(uint16_t id) {
    if (count < N) ids[count++] = id;
    ++total;
  }
  const uint16_t* begin() const { return ids.data(); }
  const uint16_t* end() const { return ids.data() + count; }
  bool empty() const { return total == 0; }
  bool operator==(const U16List&) const = default;
};

// The groups of the key_share extension's entries (TLS 1.3; none without the extension).
// A client answering a HelloRetryRequest sends other shares than in its first ClientHello:
// that is how the server side tells the second one apart. Clients send one to three.
using KeyShareGroups = U16List<8>;
KeyShareGroups keySharesFromClientHello(SSL* ssl);

// The facts of one ClientHello. The inline capacities hold what real clients send
// (browsers offer about 16 cipher suites and 4 to 10 groups, OpenSSL's defaults 31 and 10).
struct ClientHelloFacts {
  std::string sni;           // as sniFromClientHello
  std::string alpn;          // offered, wire format, as alpnFromClientHello
  U16List<8> versions;       // supported_versions, else the legacy version alone
  U16List<32> groups;        // supported_groups
  U16List<64> ciphers;       // cipher suites
  KeyShareGroups keyShares;  // the groups of the key shares sent
  std::string ja4;           // the JA4 fingerprint (tls/ja4.h); "" if unreadable
  std::string ticket;        // the session ticket offered (tls/ticket_offer.h); "" = none
};
ClientHelloFacts readClientHello(SSL* ssl);

}  // namespace tlsgate::tls
