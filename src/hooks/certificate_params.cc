#include "hooks/certificate_params.h"

#include <atomic>

namespace tlsgate::hooks {

namespace {
std::atomic<std::shared_ptr<const tls::ServerParams>> current;
}

void setCertificateParams(std::shared_ptr<const tls::ServerParams> params) {
  current.store(std::move(params));
}

std::shared_ptr<const tls::ServerParams> certificateParams() {
  return current.load();
}

}  // namespace tlsgate::hooks
