#include "config/admission_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "config/schema.h"

namespace tlsgate::config {

namespace {

using proxy::AdmissionRule;
using yaml::Field;

constexpr std::string_view kFile = "tlsgate.yaml";

class AdmissionParser {
 public:
  explicit AdmissionParser(const std::string& path) : path_(path) {}

  Result<proxy::AdmissionSettings> parse(const Field& f);

 private:
  Error fail(int line, std::string message) const { return Error{path_, line, std::move(message)}; }
  Result<std::vector<Field>> fields(const Field& f, std::string_view scope) const {
    return yaml::fields(path_, f.value, f.valueLine(), f.label, schema::keySet(kFile, scope));
  }
  Result<unsigned> integer(const Field& f, unsigned max) const;
  Result<double> rate(const Field& f) const;
  Result<bool> boolean(const Field& f) const;
  Result<std::vector<std::string>> strings(const Field& f) const;
  Status parseShed(const Field& f, proxy::ShedSettings& shed) const;
  Status parseRules(const Field& f, std::vector<AdmissionRule>& rules) const;
  Result<AdmissionRule> parseRule(const Field& f) const;
  Status ruleField(const Field& k, AdmissionRule& rule) const;
  Status ruleMatchField(const Field& k, AdmissionRule& rule) const;
  Status checkRule(const Field& f, const AdmissionRule& rule, const std::vector<Field>& keys) const;

  const std::string& path_;
};

Result<unsigned> AdmissionParser::integer(const Field& f, unsigned max) const {
  unsigned v = 0;
  const std::string s = f.value.IsScalar() ? f.value.Scalar() : "";
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > max)
    return fail(f.valueLine(), f.label + " must be an integer from 0 to " + std::to_string(max) +
                                   ", got " + yaml::describe(f.value));
  return v;
}

Result<double> AdmissionParser::rate(const Field& f) const {
  double v = 0;
  const std::string s = f.value.IsScalar() ? f.value.Scalar() : "";
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v < 0 ||
      v > 1e9)
    return fail(f.valueLine(),
                f.label + " must be a number from 0 to 1e9, got " + yaml::describe(f.value));
  return v;
}

Result<bool> AdmissionParser::boolean(const Field& f) const {
  const std::string s = f.value.IsScalar() ? f.value.Scalar() : "";
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return fail(f.valueLine(), f.label + " must be true or false, got " + yaml::describe(f.value));
}

Result<std::vector<std::string>> AdmissionParser::strings(const Field& f) const {
  return yaml::stringList(path_, f);
}

Result<proxy::AdmissionSettings> AdmissionParser::parse(const Field& f) {
  auto keys = fields(f, "admission");
  if (!keys) return keys.error();
  proxy::AdmissionSettings s;
  for (const Field& k : *keys) {
    Status st = Ok{};
    if (k.name == "shed") {
      st = parseShed(k, s.shed);
    } else if (k.name == "rules") {
      st = parseRules(k, s.rules);
    } else {
      const bool prefix = k.name.starts_with("source_prefix");
      auto n = integer(k, k.name == "source_prefix_v4" ? 32 : prefix ? 128 : 100000000);
      if (!n) return n.error();
      (k.name == "source_prefix_v4"         ? s.sourcePrefixV4
       : k.name == "source_prefix_v6"       ? s.sourcePrefixV6
       : k.name == "max_connections"        ? s.maxConnections
       : k.name == "max_handshakes"         ? s.maxHandshakes
       : k.name == "per_source_connections" ? s.perSourceConnections
                                            : s.perSourceHandshakes) = *n;
    }
    if (!st) return st.error();
  }
  return s;
}

Status AdmissionParser::parseShed(const Field& f, proxy::ShedSettings& shed) const {
  auto keys = fields(f, "admission.shed");
  if (!keys) return keys.error();
  for (const Field& k : *keys) {
    if (k.name == "enabled") {
      auto on = boolean(k);
      if (!on) return on.error();
      shed.enabled = *on;
    } else if (k.name == "max_loop_lag_ms") {
      auto ms = integer(k, 60000);
      if (!ms) return ms.error();
      if (*ms == 0) return fail(k.valueLine(), k.label + " must be at least 1");
      shed.maxLoopLag = std::chrono::milliseconds(*ms);
    } else {
      auto n = integer(k, 100000000);
      if (!n) return n.error();
      shed.maxHandshakes = *n;
    }
  }
  return Ok{};
}

Status AdmissionParser::parseRules(const Field& f, std::vector<AdmissionRule>& rules) const {
  if (!f.value.IsSequence())
    return fail(f.valueLine(),
                f.label + " must be a list of rules, got " + yaml::describe(f.value));
  for (const auto& node : f.value) {
    Field item{"rules[]", yaml::lineOf(node) ? yaml::lineOf(node) : f.line, node, "admission rule"};
    auto rule = parseRule(item);
    if (!rule) return rule.error();
    rules.push_back(std::move(*rule));
  }
  return Ok{};
}

Result<AdmissionRule> AdmissionParser::parseRule(const Field& f) const {
  auto keys = fields(f, "admission.rules[]");
  if (!keys) return keys.error();
  AdmissionRule rule;
  rule.line = f.line;
  for (const Field& k : *keys) {
    Status st = k.name == "source" || k.name == "listener" || k.name == "sni" || k.name == "ja4"
                    ? ruleMatchField(k, rule)
                    : ruleField(k, rule);
    if (!st) return st.error();
  }
  if (auto st = checkRule(f, rule, *keys); !st) return st.error();
  // A rate without a burst may save up a second's worth (at least one).
  for (RateLimit* limit : {&rule.connections, &rule.handshakes})
    if (limit->limited() && limit->burst == 0) limit->burst = std::max(1.0, std::ceil(limit->rate));
  return rule;
}

Status AdmissionParser::ruleMatchField(const Field& k, AdmissionRule& rule) const {
  auto list = strings(k);
  if (!list) return list.error();
  for (std::string& item : *list) {
    if (k.name == "source") {
      if (auto st = rule.sources.add(item); !st)
        return fail(k.valueLine(), k.label + ": " + st.error().message);
    } else if (k.name == "listener") {
      auto address = net::parseAddress(item, /*requirePort=*/true);
      if (!address) return fail(k.valueLine(), k.label + ": '" + item + "' is not an address:port");
      rule.listeners.push_back(*address);
    } else if (k.name == "sni") {
      std::transform(item.begin(), item.end(), item.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (item.find('*') != std::string::npos &&
          (!item.starts_with("*.") || item.size() < 3 || item.find('*', 1) != std::string::npos))
        return fail(k.valueLine(), k.label + ": '" + item +
                                       "': a wildcard is written *.example.com (first label only)");
      rule.names.push_back(item);
    } else {
      rule.ja4s.push_back(item);
    }
  }
  return Ok{};
}

Status AdmissionParser::ruleField(const Field& k, AdmissionRule& rule) const {
  if (k.name == "action" || k.name == "deny_with" || k.name == "per") {
    auto index = schema::oneOf(path_, k, kFile, "admission.rules[]", k.label);
    if (!index) return index.error();
    if (k.name == "action") rule.action = static_cast<AdmissionRule::Action>(*index);
    if (k.name == "deny_with") rule.denyWithAlert = *index == 1;
    if (k.name == "per") rule.per = static_cast<AdmissionRule::Per>(*index);
    return Ok{};
  }
  auto value = rate(k);
  if (!value) return value.error();
  const bool handshakes = k.name.starts_with("handshake");
  RateLimit& limit = handshakes ? rule.handshakes : rule.connections;
  if (k.name.ends_with("_burst")) {
    if (*value < 1) return fail(k.valueLine(), k.label + " must be at least 1");
    limit.burst = *value;
  } else {
    limit.rate = *value;
  }
  return Ok{};
}

Status AdmissionParser::checkRule(const Field& f, const AdmissionRule& rule,
                                  const std::vector<Field>& keys) const {
  const bool limit = rule.action == AdmissionRule::Action::kLimit;
  for (const Field& k : keys) {
    const bool limitKey =
        k.name == "per" || k.name.ends_with("_second") || k.name.ends_with("_burst");
    if (limitKey && !limit) return fail(k.line, k.label + " is for action: limit");
    if (k.name == "deny_with" && rule.action != AdmissionRule::Action::kDeny)
      return fail(k.line, k.label + " is for action: deny");
    if (k.name.ends_with("_burst") &&
        !(k.name.starts_with("handshake") ? rule.handshakes : rule.connections).limited())
      return fail(k.line, k.label + " needs its rate (" +
                              (k.name.starts_with("handshake") ? "handshakes_per_second"
                                                               : "connections_per_second") +
                              ")");
  }
  if (limit && !rule.connections.limited() && !rule.handshakes.limited())
    return fail(f.line,
                "admission rule: action: limit needs connections_per_second or "
                "handshakes_per_second");
  return Ok{};
}

}  // namespace

Status checkAdmissionListeners(const proxy::AdmissionSettings& admission,
                               const std::vector<net::Address>& listeners,
                               const std::string& path) {
  for (const AdmissionRule& rule : admission.rules)
    for (const net::Address& a : rule.listeners)
      if (std::find(listeners.begin(), listeners.end(), a) == listeners.end())
        return Error{path, rule.line,
                     "admission rule: listener " + a.toString() + " is not in listeners"};
  return Ok{};
}

Result<proxy::AdmissionSettings> parseAdmission(const yaml::Field& f, const std::string& path) {
  return AdmissionParser(path).parse(f);
}

}  // namespace tlsgate::config
