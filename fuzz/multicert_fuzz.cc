// libFuzzer target for config::parseMulticert (ssl_multicert.config). Beyond what
// config_checks.h checks of every parser, an entry that parses is one the store can build
// from: at least one certificate, as many keys as certificates or none, its own line, and
// file names resolved against the config's folder.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/multicert.h"
#include "config_checks.h"

using tlsgate::config::parseMulticert;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  const std::string_view text(reinterpret_cast<const char*>(data), len);
  const std::string path = "/fuzz/ssl_multicert.config";
  auto entries = parseMulticert(text, path);
  if (!entries) {
    tlsgate::fuzz::checkError(entries.error(), text, path);
    return 0;
  }
  int previousLine = 0;
  for (const auto& entry : *entries) {
    FUZZ_CHECK(entry.line > previousLine);
    FUZZ_CHECK(entry.line <= tlsgate::fuzz::lineCount(text));
    previousLine = entry.line;
    FUZZ_CHECK(!entry.certFiles.empty());
    FUZZ_CHECK(entry.keyFiles.empty() || entry.keyFiles.size() == entry.certFiles.size());
    for (const auto& file : entry.certFiles) FUZZ_CHECK(file.starts_with("/"));
  }
  return 0;
}
