// HandshakePolicy: what the handshake driver asks of the routing configuration (sni.yaml,
// the listener's flags), through a narrow interface so that tls/ does not depend on the
// routing code.
#pragma once

#include <string>
#include <string_view>

#include "tls/ossl.h"

namespace tlsgate::tls {

struct PolicyVerdict {
  enum Kind : uint8_t {
    kContinue,  // go on with the handshake
    kDeny,      // refuse: fatal alert `alert`
    kTunnel,    // blind tunnel to `destination` (the buffered ClientHello is replayed)
  };
  Kind kind = kContinue;
  int alert = 0;
  std::string destination;
};

class HandshakePolicy {
 public:
  virtual ~HandshakePolicy() = default;
  // From the ClientHello callback, once per connection, with the client's server name
  // ("" when it sent none). May bound the protocol versions of `ssl`.
  virtual PolicyVerdict onClientHello(SSL* ssl, std::string_view sni) = 0;
  // From the certificate callback, once, after the certificate selection switched the
  // context (a switch resets what lives on the context, e.g. the verify store):
  // per-name client certificate settings. `tunnelEntry` says the selected multicert entry
  // has action=tunnel; the verdict may turn it into a tunnel (S11, transparent listeners).
  virtual PolicyVerdict onCertificateSelected(SSL* ssl, bool tunnelEntry) = 0;
};

}  // namespace tlsgate::tls
