#include "config/cert_directory_config.h"

#include <charconv>

#include "config/schema.h"
#include "config/yaml_fields.h"

namespace tlsgate::config {

namespace {

// A whole number of `unit`, at least `least`.
Result<unsigned> atLeast(const yaml::Field& k, const std::string& path, unsigned least,
                         const char* unit) {
  const std::string text = k.value.IsScalar() ? k.value.Scalar() : "";
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < least)
    return Error{path, k.valueLine(),
                 k.label + " must be an integer of at least " + std::to_string(least) + " (" +
                     unit + "), got " + yaml::describe(k.value)};
  return v;
}

}  // namespace

Result<CertDirectoryConfig> parseCertDirectory(const yaml::Field& f, const std::string& path,
                                               const std::filesystem::path& dir) {
  auto keys = yaml::fields(path, f.value, f.valueLine(), f.label,
                           schema::keySet("tlsgate.yaml", "ssl.cert_directory"));
  if (!keys) return keys.error();
  CertDirectoryConfig out;
  out.line = f.line;
  for (const yaml::Field& k : *keys) {
    if (k.name == "path") {
      if (!k.value.IsScalar() || k.value.Scalar().empty())
        return Error{path, k.valueLine(),
                     k.label + " must name a folder, got " + yaml::describe(k.value)};
      std::filesystem::path folder(k.value.Scalar());
      out.path = folder.is_absolute() ? folder.string() : (dir / folder).string();
      out.pathLine = k.valueLine();
      continue;
    }
    const bool ttl = k.name == "negative_ttl";
    auto n = atLeast(k, path, ttl ? 0 : 1, k.name == "cache_size" ? "certificates" : "seconds");
    if (!n) return n.error();
    (k.name == "cache_size" ? out.cacheSize : ttl ? out.negativeTtlSec : out.timeoutSec) = *n;
  }
  if (out.path.empty()) return Error{path, f.line, f.label + ": missing required key 'path'"};
  return out;
}

}  // namespace tlsgate::config
