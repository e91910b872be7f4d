// The TLS settings that certificates loaded by plugins (tlsgate_cert_from_pem) get: those
// of the current configuration snapshot. Set at startup (and by a reload, later).
#pragma once

#include <memory>

#include "tls/server_params.h"

namespace tlsgate::hooks {

void setCertificateParams(std::shared_ptr<const tls::ServerParams> params);
std::shared_ptr<const tls::ServerParams> certificateParams();

}  // namespace tlsgate::hooks
