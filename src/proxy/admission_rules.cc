#include "proxy/admission_rules.h"

#include <algorithm>

namespace tlsgate::proxy {

bool nameMatches(std::string_view pattern, std::string_view name) {
  if (!pattern.starts_with("*.")) return pattern == name;
  std::string_view suffix = pattern.substr(1);  // ".example.com"
  return name.size() > suffix.size() && name.ends_with(suffix);
}

namespace {

template <class T, class Pred>
bool anyOrEmpty(const std::vector<T>& list, Pred pred) {
  return list.empty() || std::any_of(list.begin(), list.end(), pred);
}

bool matchesAtAccept(const AdmissionRule& r, const net::Address& source,
                     const net::Address& listener) {
  if (!r.sources.empty() && !r.sources.contains(source)) return false;
  return anyOrEmpty(r.listeners, [&](const net::Address& a) { return a == listener; });
}

bool matchesClientHello(const AdmissionRule& r, const std::string& sni, const std::string& ja4) {
  return anyOrEmpty(r.names, [&](const std::string& p) { return nameMatches(p, sni); }) &&
         anyOrEmpty(r.ja4s, [&](const std::string& j) { return j == ja4; });
}

}  // namespace

AdmissionMatch matchRule(const AdmissionSettings& settings, const net::Address& source,
                         const net::Address& listener, const std::string* sni,
                         const std::string* ja4) {
  for (size_t i = 0; i < settings.rules.size(); ++i) {
    const AdmissionRule& r = settings.rules[i];
    if (!matchesAtAccept(r, source, listener)) continue;
    if (!sni) {
      if (r.needsClientHello()) return {nullptr, i, true};
      return {&r, i, false};
    }
    if (matchesClientHello(r, *sni, *ja4)) return {&r, i, false};
  }
  return {};
}

}  // namespace tlsgate::proxy
