#include "proxy/route_table.h"

#include <algorithm>

#include "proxy/destination.h"

namespace tlsgate::proxy {

void RouteTable::indexRules() {
  std::vector<std::string_view> fqdns;
  fqdns.reserve(rules.size());
  for (const NameRule& rule : rules) fqdns.push_back(rule.fqdn);
  index_ = NameIndex(fqdns);
}

RuleMatch RouteTable::match(std::string_view sni) const {
  auto m = index_.match(sni);
  if (!m) return {};
  return {&rules[m->index], std::move(m->captures)};
}

const Endpoint* RouteTable::forProtocol(const NameRule* rule, std::string_view protocol) const {
  if (rule) {
    for (const auto& [p, e] : rule->alpn)
      if (p == protocol) return &e;
  }
  for (const auto& [p, e] : alpn)
    if (p == protocol) return &e;
  return nullptr;
}

const Endpoint* RouteTable::catchAll(const NameRule* rule) const {
  if (rule && rule->action && rule->action->kind != EndpointKind::kTunnel) return &*rule->action;
  return defaultEndpoint ? &*defaultEndpoint : nullptr;
}

Status RouteTable::resolveNames() {
  auto resolve = [](Endpoint& e) -> Status {
    if (e.address || e.kind == EndpointKind::kInspect || hasTokens(e.destination)) return Ok{};
    auto address = net::resolveHostPort(e.destination);
    if (!address) return Error{e.file, e.line, address.error().message};
    e.address = *address;
    return Ok{};
  };
  if (defaultEndpoint)
    if (auto st = resolve(*defaultEndpoint); !st) return st;
  for (auto& [p, e] : alpn)
    if (auto st = resolve(e); !st) return st;
  for (NameRule& rule : rules) {
    if (rule.action)
      if (auto st = resolve(*rule.action); !st) return st;
    for (auto& [p, e] : rule.alpn)
      if (auto st = resolve(e); !st) return st;
  }
  return Ok{};
}

std::vector<std::string> RouteTable::servedProtocols() const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& p) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  };
  for (const auto& [p, e] : alpn) add(p);
  for (const NameRule& rule : rules)
    for (const auto& [p, e] : rule.alpn) add(p);
  return out;
}

}  // namespace tlsgate::proxy
