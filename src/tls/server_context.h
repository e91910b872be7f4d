// Building server SSL_CTX objects: one per certificate entry plus the certificate-less
// trampoline context every connection starts on (S6). All of them share the same settings
// and callbacks, because OpenSSL reads some of them from whichever context the connection
// has switched to.
#pragma once

#include "core/result.h"
#include "tls/ossl.h"
#include "tls/server_params.h"

namespace tlsgate::tls {

Result<ossl::UniquePtr<SSL_CTX>> newServerContext(const ServerParams& params);

}  // namespace tlsgate::tls
