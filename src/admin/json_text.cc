#include "admin/json_text.h"

#include "core/json.h"

namespace tlsgate::admin {

std::string isoUtc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void appendStrings(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    json::appendString(out, items[i]);
  }
  out += ']';
}

}  // namespace tlsgate::admin
