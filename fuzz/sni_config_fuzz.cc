// libFuzzer target for config::parseSniConfig (sni.yaml), and for the lookup built from
// what parses: every rule's fqdn is looked up (and a name under each wildcard), and the
// rule found is one of the config's, with as many captures as its wildcard has.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/sni_config.h"
#include "config_checks.h"

using tlsgate::config::parseSniConfig;
using tlsgate::config::SniConfig;

namespace {

void checkLookup(const SniConfig& config, const std::string& name) {
  const auto match = config.match(name);
  if (!match.rule) return;
  FUZZ_CHECK(match.rule >= config.rules.data() &&
             match.rule < config.rules.data() + config.rules.size());
  FUZZ_CHECK(match.captures.size() <= 9);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  const std::string_view text(reinterpret_cast<const char*>(data), len);
  const std::string path = "/fuzz/sni.yaml";
  auto config = parseSniConfig(text, path);
  if (!config) {
    tlsgate::fuzz::checkError(config.error(), text, path);
    return 0;
  }
  for (const auto& rule : config->rules) {
    FUZZ_CHECK(rule.line >= 1 && rule.line <= tlsgate::fuzz::lineCount(text));
    checkLookup(*config, rule.fqdn);
    if (rule.fqdn.starts_with("*.")) checkLookup(*config, "x" + rule.fqdn.substr(1));
    // A name is served by its own rule or by an earlier one that covers it.
    if (!rule.fqdn.starts_with("*")) FUZZ_CHECK(config->match(rule.fqdn).rule != nullptr);
  }
  checkLookup(*config, "");
  return 0;
}
