#include "config/wire_trace_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

#include "config/schema.h"
#include "config/yaml_fields.h"

namespace tlsgate::config {

Result<WireTraceConfig> parseWireTrace(const yaml::Field& f, const std::string& path) {
  WireTraceConfig trace;
  trace.line = f.line;
  // `wire_trace:` with nothing after it is an empty mapping: every connection.
  if (f.value.IsNull()) return trace;
  auto keys = yaml::fields(path, f.value, f.valueLine(), f.label,
                           schema::keySet("tlsgate.yaml", "ssl.wire_trace"));
  if (!keys) return keys.error();
  for (const yaml::Field& k : *keys) {
    auto fail = [&](const std::string& what) {
      return Error{path, k.valueLine(), k.label + " " + what + ", got " + yaml::describe(k.value)};
    };
    if (!k.value.IsScalar() || k.value.Scalar().empty()) {
      if (k.name == "percentage") return fail("must be an integer from 0 to 100");
      return fail(k.name == "client_ip" ? "must be an address, a CIDR or a range"
                                        : "must be a server name");
    }
    const std::string& text = k.value.Scalar();
    if (k.name == "client_ip") {
      net::CidrSet set;
      if (auto st = set.add(text); !st)
        return Error{path, k.valueLine(), k.label + ": " + st.error().message};
      trace.clientIp = std::move(set);
    } else if (k.name == "server_name") {
      trace.serverName = text;
      std::transform(trace.serverName.begin(), trace.serverName.end(), trace.serverName.begin(),
                     [](unsigned char c) { return std::tolower(c); });
    } else {
      unsigned v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || v > 100)
        return fail("must be an integer from 0 to 100");
      trace.percentage = v;
    }
  }
  return trace;
}

}  // namespace tlsgate::config
