// What can be read off a ClientHello inside OpenSSL's ClientHello callback, before
// SSL_get_servername() and friends are set.
#pragma once

#include <string>

#include "tls/ossl.h"

namespace tlsgate::tls {

// The host_name of the server_name extension, lowercased; "" when there is none or it is
// malformed (OpenSSL rejects a malformed one later anyway).
std::string sniFromClientHello(SSL* ssl);

// The client's ALPN protocol list in wire format (length-prefixed names); "" when none.
std::string alpnFromClientHello(SSL* ssl);

}  // namespace tlsgate::tls
