// libFuzzer target for config::parseGatewayConfig (tlsgate.yaml): YAML that yaml-cpp reads
// or refuses, then every key of the schema. What a config that parses promises the
// snapshot: listeners with ports, ALPN ids of 1..255 bytes, protocol bounds in order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/gateway_config.h"
#include "config_checks.h"

using tlsgate::config::parseGatewayConfig;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  const std::string_view text(reinterpret_cast<const char*>(data), len);
  const std::string path = "/fuzz/tlsgate.yaml";
  auto config = parseGatewayConfig(text, path);
  if (!config) {
    tlsgate::fuzz::checkError(config.error(), text, path);
    return 0;
  }
  for (const auto& listener : config->listeners) FUZZ_CHECK(listener.address.port() != 0);
  for (const auto& id : config->ssl.alpn) FUZZ_CHECK(!id.empty() && id.size() <= 255);
  FUZZ_CHECK(config->ssl.minVersion <= config->ssl.maxVersion);
  return 0;
}
