#include "proxy/name_index.h"

#include <algorithm>
#include <cstdint>

namespace tlsgate::proxy {

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

}  // namespace

size_t NameIndex::NameHash::operator()(std::string_view name) const {
  uint64_t h = 14695981039346656037ull;  // FNV-1a over the lowercased bytes
  for (char c : name) {
    h ^= static_cast<unsigned char>(lower(c));
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

bool NameIndex::NameEqual::operator()(std::string_view a, std::string_view b) const {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

NameIndex::NameIndex(const std::vector<std::string_view>& patterns) {
  shadowedBy_.resize(patterns.size());
  for (size_t i = 0; i < patterns.size(); ++i) {
    const std::string_view fqdn = patterns[i];
    // The earlier pattern that wins for every name this one matches, if any.
    std::optional<size_t> shadow = catchAll_;
    if (fqdn.empty()) {
      if (!shadow) shadow = noSni_;
      if (!noSni_) noSni_ = i;
    } else if (fqdn == "*") {
      if (!catchAll_) catchAll_ = i;
    } else if (fqdn.starts_with("*.")) {
      auto [it, added] = wildcard_.try_emplace(std::string(fqdn.substr(2)), i);
      if (!shadow && !added) shadow = it->second;
    } else {
      auto [it, added] = exact_.try_emplace(std::string(fqdn), i);
      if (!shadow && !added) shadow = it->second;
      const auto dot = fqdn.find('.');
      if (!shadow && dot != std::string_view::npos) {
        if (auto w = wildcard_.find(fqdn.substr(dot + 1)); w != wildcard_.end()) shadow = w->second;
      }
    }
    shadowedBy_[i] = shadow;
  }
}

std::optional<NameMatch> NameIndex::match(std::string_view sni) const {
  std::optional<size_t> best;
  auto consider = [&best](std::optional<size_t> i) {
    if (i && (!best || *i < *best)) best = i;
  };
  std::optional<size_t> wildcard;
  const auto dot = sni.find('.');
  if (sni.empty()) {
    consider(noSni_);
  } else {
    if (auto it = exact_.find(sni); it != exact_.end()) consider(it->second);
    if (dot != std::string_view::npos && dot > 0) {
      if (auto it = wildcard_.find(sni.substr(dot + 1)); it != wildcard_.end()) {
        wildcard = it->second;
        consider(wildcard);
      }
    }
  }
  consider(catchAll_);
  if (!best) return std::nullopt;
  NameMatch m{*best, {}};
  if (best == wildcard)
    m.captures.push_back(lowered(sni.substr(0, dot)));
  else if (best == catchAll_ && !sni.empty())
    m.captures.push_back(lowered(sni));
  return m;
}

}  // namespace tlsgate::proxy
