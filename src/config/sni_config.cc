#include "config/sni_config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>

#include "config/schema.h"
#include "config/yaml_fields.h"
#include "core/read_file.h"
#include "core/text.h"

namespace tlsgate::config {

namespace {

using yaml::describe;
using yaml::Field;
using yaml::lineOf;

// The keys about TLS to the origin: only partial_blind_route opens TLS towards one.
constexpr std::string_view kOriginTlsKeys[] = {"verify_server_policy", "verify_server_properties",
                                               "client_cert",          "client_key",
                                               "client_sni_policy",    "origin_sni",
                                               "origin_ca_certs",      "origin_alpn"};

// Keys of ATS's sni.yaml (9.x, 10.x) that tlsgate refuses by name rather than as unknown.
constexpr std::string_view kAtsOnlyKeys[] = {
    "inbound_port_ranges",
    "host_sni_policy",
    "server_cipher_suite",
    "server_TLSv1_3_cipher_suites",
    "server_group_list",
    "valid_tls_versions_in",
    "http2",
    "http2_buffer_water_mark",
    "http2_initial_window_size_in",
    "http2_max_settings_frames_per_minute",
    "http2_max_ping_frames_per_minute",
    "http2_max_priority_frames_per_minute",
    "http2_max_rst_stream_frames_per_minute",
    "http2_max_continuation_frames_per_minute",
    "http2_max_empty_frames_per_minute",
    "quic",
    "tunnel_alpn",
    "tunnel_prewarm",
    "tunnel_prewarm_srv",
    "tunnel_prewarm_rate",
    "tunnel_prewarm_min",
    "tunnel_prewarm_max",
    "tunnel_prewarm_connect_timeout",
    "tunnel_prewarm_inactive_timeout",
    "server_max_early_data",
};

constexpr std::string_view kRouteKeys[] = {"tunnel_route", "forward_route", "partial_blind_route"};

constexpr std::string_view kInboundLocalPort = "{inbound_local_port}";
constexpr std::string_view kProxyProtocolPort = "{proxy_protocol_port}";
constexpr std::string_view kInspect = "builtin:inspect";

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// A wildcard fqdn captures one label ("*.example.com") or the whole name ("*"): $1.
int capturesOf(std::string_view fqdn) {
  return fqdn == "*" || fqdn.starts_with("*.") ? 1 : 0;
}

// What is wrong with a (lowercased) fqdn, or "" when nothing is.
std::string fqdnProblem(std::string_view fqdn) {
  if (fqdn.empty() || fqdn == "*") return "";
  if (fqdn.size() > 253) return "is longer than 253 characters";
  std::string_view body = fqdn.starts_with("*.") ? fqdn.substr(2) : fqdn;
  if (body.find('*') != std::string_view::npos) {
    return "a wildcard must be the whole left-most label ('*.example.com') or the whole name "
           "('*')";
  }
  for (;;) {
    const auto dot = body.find('.');
    const auto label = body.substr(0, dot);
    if (label.empty()) return "has an empty label";
    if (label.size() > 63) return "has a label longer than 63 characters";
    for (char c : label) {
      if (!isHostChar(c)) return concat({"contains '", std::string_view(&c, 1), "'"});
    }
    if (dot == std::string_view::npos) return "";
    body.remove_prefix(dot + 1);
  }
}

// What is wrong with the host part of a destination ("" when nothing): a name or IPv4
// literal, possibly holding $1..$N where N is the number of captures of `fqdn`.
std::string hostProblem(std::string_view host, std::string_view fqdn) {
  if (host.empty()) return "has no host (host:port)";
  const int captures = capturesOf(fqdn);
  for (size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    if (c == '$') {
      const char n = i + 1 < host.size() ? host[i + 1] : '\0';
      if (n < '1' || n > '9') return "'$' must be followed by a capture number 1..9";
      if (n - '0' > captures) {
        return "uses $" + std::string(1, n) + " but fqdn " + inQuotes(fqdn) +
               (captures == 0 ? " has no wildcard to capture it" : " captures only $1");
      }
      ++i;
    } else if (c == '{') {
      return "{...} port tokens may only stand for the port";
    } else if (!isHostChar(c)) {
      return "contains " + inQuotes(std::string_view(&c, 1)) + " in its host";
    }
  }
  return "";
}

// What is wrong with a destination pattern "host:port" ("" when nothing).
std::string destinationProblem(std::string_view d, std::string_view fqdn) {
  std::string_view host, port;
  if (d.starts_with('[')) {
    const auto close = d.find(']');
    if (close == std::string_view::npos) return "has '[' without ']'";
    host = d.substr(1, close - 1);
    const auto rest = d.substr(close + 1);
    if (!rest.starts_with(':')) return "needs a port: [address]:port";
    port = rest.substr(1);
    std::string literal(host);
    in6_addr unused;
    if (inet_pton(AF_INET6, literal.c_str(), &unused) != 1)
      return inQuotes(host) + " in brackets is not an IPv6 address";
  } else {
    const auto colon = d.rfind(':');
    if (colon == std::string_view::npos) return "needs a port: host:port";
    host = d.substr(0, colon);
    port = d.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return "an IPv6 address must be written in brackets: [address]:port";
    if (auto problem = hostProblem(host, fqdn); !problem.empty()) return problem;
  }
  if (port == kInboundLocalPort || port == kProxyProtocolPort) return "";
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number == 0 ||
      number > 65535) {
    return "port " + inQuotes(port) + " must be 1..65535, " + std::string(kInboundLocalPort) +
           " or " + std::string(kProxyProtocolPort);
  }
  return "";
}

const Field* findField(const std::vector<Field>& keys, std::string_view name) {
  auto it = std::find_if(keys.begin(), keys.end(), [&](const Field& f) { return f.name == name; });
  return it == keys.end() ? nullptr : &*it;
}

bool isOriginTlsKey(std::string_view name) {
  return std::find(std::begin(kOriginTlsKeys), std::end(kOriginTlsKeys), name) !=
         std::end(kOriginTlsKeys);
}

std::string_view versionName(TlsVersion v) {
  return v == TlsVersion::kTls12 ? "TLSv1_2" : "TLSv1_3";
}

class SniParser {
 public:
  explicit SniParser(const std::string& path)
      : path_(path), dir_(std::filesystem::path(path).parent_path()) {}

  Result<SniConfig> parse(const YAML::Node& root) const;

 private:
  Error fail(int line, std::string message) const { return Error{path_, line, std::move(message)}; }
  Result<std::string> string(const Field& f) const;
  std::string resolved(const std::string& file) const;
  Result<SniRule> parseItem(const YAML::Node& node, int line) const;
  Status parseField(const Field& f, SniRule& rule) const;
  Status parseFqdn(const Field& f, SniRule& rule) const;
  Status parseRoute(const Field& f, SniRule& rule) const;
  Status parseIpAllow(const Field& f, SniRule& rule) const;
  Status addIpEntries(std::string_view list, int line, net::CidrSet& set) const;
  Result<TlsVersion> parseVersion(const Field& f) const;
  Status parseVerifyClient(const Field& f, SniRule& rule) const;
  Status parseCaCerts(const Field& f, SniRule& rule) const;
  Status parseAlpnRoutes(const Field& f, SniRule& rule) const;
  Status parseProxyProtocol(const Field& f, SniRule& rule) const;
  Status parseTickets(const Field& f, SniRule& rule) const;
  Result<size_t> oneOf(const Field& f) const;
  Status parseOriginTls(const Field& f, SniRule& rule) const;
  Status checkOriginTls(const std::vector<Field>& keys, const SniRule& rule) const;
  Status checkItem(const std::vector<Field>& keys, const SniRule& rule) const;

  const std::string& path_;
  std::filesystem::path dir_;
};

Result<std::string> SniParser::string(const Field& f) const {
  if (!f.value.IsScalar())
    return fail(f.valueLine(), f.name + " must be a string, got " + describe(f.value));
  return f.value.Scalar();
}

// Files named in sni.yaml are relative to its folder.
std::string SniParser::resolved(const std::string& file) const {
  const std::filesystem::path p(file);
  return p.is_absolute() || dir_.empty() ? file : (dir_ / p).string();
}

Result<SniConfig> SniParser::parse(const YAML::Node& root) const {
  SniConfig config;
  config.path = path_;
  if (!root.IsNull()) {  // an empty file has no rules
    auto top = yaml::fields(path_, root, lineOf(root), "", schema::keySet("sni.yaml", ""));
    if (!top) return top.error();
    for (const Field& f : *top) {  // only "sni"
      if (f.value.IsNull()) continue;
      if (!f.value.IsSequence()) {
        return fail(f.valueLine(),
                    "sni must be a sequence of items (- fqdn: ...), got " + describe(f.value));
      }
      for (const auto& node : f.value) {
        auto rule = parseItem(node, lineOf(node) != 0 ? lineOf(node) : f.line);
        if (!rule) return rule.error();
        config.rules.push_back(std::move(rule.value()));
      }
    }
  }
  config.index();
  return config;
}

Result<SniRule> SniParser::parseItem(const YAML::Node& node, int line) const {
  auto keys =
      yaml::fields(path_, node, line, "sni item",
                   {.allowed = schema::keySet("sni.yaml", "sni[]").allowed,
                    .unsupported = kAtsOnlyKeys,
                    .unsupportedWhy = "is an ATS sni.yaml key that tlsgate does not support"});
  if (!keys) return keys.error();
  SniRule rule;
  rule.line = line;
  // The fqdn first: destinations are checked against its wildcard captures.
  const Field* fqdn = findField(*keys, "fqdn");
  if (!fqdn) return fail(line, "sni item: missing required key 'fqdn'");
  if (auto st = parseFqdn(*fqdn, rule); !st) return st.error();
  const Field* route = nullptr;
  for (const Field& f : *keys) {
    if (std::find(std::begin(kRouteKeys), std::end(kRouteKeys), f.name) != std::end(kRouteKeys)) {
      if (route) {
        return fail(f.line,
                    "an item takes at most one of tunnel_route, forward_route and "
                    "partial_blind_route; this one already has " +
                        route->name);
      }
      route = &f;
    }
  }
  for (const Field& f : *keys) {
    if (&f == fqdn) continue;
    if (auto st = parseField(f, rule); !st) return st.error();
  }
  if (auto st = checkItem(*keys, rule); !st) return st.error();
  return rule;
}

Status SniParser::parseField(const Field& f, SniRule& rule) const {
  if (f.name == "ip_allow") return parseIpAllow(f, rule);
  if (f.name == "verify_client") return parseVerifyClient(f, rule);
  if (f.name == "verify_client_ca_certs") return parseCaCerts(f, rule);
  if (f.name == "alpn_routes") return parseAlpnRoutes(f, rule);
  if (f.name == "send_proxy_protocol") return parseProxyProtocol(f, rule);
  if (f.name == "ssl_ticket_enabled" || f.name == "ssl_ticket_number") return parseTickets(f, rule);
  if (isOriginTlsKey(f.name)) return parseOriginTls(f, rule);
  if (f.name == "valid_tls_version_min_in" || f.name == "valid_tls_version_max_in") {
    auto version = parseVersion(f);
    if (!version) return version.error();
    (f.name == "valid_tls_version_min_in" ? rule.minVersion : rule.maxVersion) = *version;
    return Ok{};
  }
  if (std::find(std::begin(kRouteKeys), std::end(kRouteKeys), f.name) != std::end(kRouteKeys))
    return parseRoute(f, rule);
  return fail(f.line, "internal: sni item key " + f.name + " has no parser");
}

// An enumeration's value, as its position among the schema's allowed values.
Result<size_t> SniParser::oneOf(const Field& f) const {
  auto text = string(f);
  if (!text) return text.error();
  return schema::oneOf(path_, f, "sni.yaml", "sni[]", f.name);
}

Status SniParser::parseFqdn(const Field& f, SniRule& rule) const {
  auto text = string(f);
  if (!text) return text.error();
  rule.fqdn = lowered(*text);
  if (auto problem = fqdnProblem(rule.fqdn); !problem.empty())
    return fail(f.valueLine(), "fqdn " + inQuotes(*text) + ": " + problem);
  return Ok{};
}

Status SniParser::parseRoute(const Field& f, SniRule& rule) const {
  auto text = string(f);
  if (!text) return text.error();
  if (auto problem = destinationProblem(*text, rule.fqdn); !problem.empty())
    return fail(f.valueLine(), f.name + " " + inQuotes(*text) + ": " + problem);
  rule.action = f.name == "tunnel_route"    ? SniAction::kTunnel
                : f.name == "forward_route" ? SniAction::kForward
                                            : SniAction::kPartialBlind;
  rule.destination = *text;
  return Ok{};
}

// ip_allow: "a, b-c, d/n" or a sequence whose elements may themselves hold commas.
Status SniParser::parseIpAllow(const Field& f, SniRule& rule) const {
  net::CidrSet set;
  if (f.value.IsScalar()) {
    if (f.value.Scalar().starts_with('@')) {
      return fail(f.valueLine(),
                  "ip_allow: the '@file' form is not supported; list the "
                  "addresses in sni.yaml");
    }
    const bool blank = f.value.Scalar().find_first_not_of(" \t") == std::string::npos;
    if (!blank) {  // a blank string is an empty list: refused below
      if (auto st = addIpEntries(f.value.Scalar(), f.valueLine(), set); !st) return st;
    }
  } else if (f.value.IsSequence()) {
    for (const auto& node : f.value) {
      const int line = lineOf(node) != 0 ? lineOf(node) : f.line;
      if (!node.IsScalar())
        return fail(line, "ip_allow entries must be strings, got " + describe(node));
      if (auto st = addIpEntries(node.Scalar(), line, set); !st) return st;
    }
  } else {
    return fail(f.valueLine(),
                "ip_allow must be a list of addresses or ranges, got " + describe(f.value));
  }
  if (set.empty()) {
    return fail(f.valueLine(),
                "ip_allow is empty: it would refuse every client (remove the "
                "key to allow every client)");
  }
  rule.ipAllow = std::move(set);
  return Ok{};
}

Status SniParser::addIpEntries(std::string_view list, int line, net::CidrSet& set) const {
  for (;;) {
    const auto comma = list.find(',');
    if (auto st = set.add(list.substr(0, comma)); !st)
      return fail(line, "ip_allow: " + st.error().message);
    if (comma == std::string_view::npos) return Ok{};
    list.remove_prefix(comma + 1);
  }
}

Result<TlsVersion> SniParser::parseVersion(const Field& f) const {
  auto text = string(f);
  if (!text) return text.error();
  if (*text == "TLSv1" || *text == "TLSv1_1") {
    return fail(f.valueLine(), f.name + ": " + inQuotes(*text) +
                                   " is not supported (tlsgate supports TLSv1_2 and TLSv1_3)");
  }
  auto version = oneOf(f);  // TLSv1_2, TLSv1_3
  if (!version) return version.error();
  return static_cast<TlsVersion>(*version);
}

Status SniParser::parseVerifyClient(const Field& f, SniRule& rule) const {
  auto level = oneOf(f);  // NONE, MODERATE, STRICT
  if (!level) return level.error();
  rule.verifyClient = static_cast<VerifyClient>(*level);
  return Ok{};
}

Status SniParser::parseCaCerts(const Field& f, SniRule& rule) const {
  if (f.value.IsMap()) {
    return fail(f.valueLine(),
                "verify_client_ca_certs: the {file, dir} form is not supported; "
                "name one CA file");
  }
  auto text = string(f);
  if (!text) return text.error();
  if (text->empty()) return fail(f.valueLine(), "verify_client_ca_certs must name a file");
  rule.verifyClientCaCerts = resolved(*text);
  return Ok{};
}

// alpn_routes (a tlsgate extension): {protocol id: destination | builtin:inspect}.
Status SniParser::parseAlpnRoutes(const Field& f, SniRule& rule) const {
  if (!f.value.IsMap()) {
    return fail(f.valueLine(),
                "alpn_routes must be a mapping of protocol: destination, got " + describe(f.value));
  }
  std::set<std::string> seen;
  for (const auto& kv : f.value) {
    const int keyLine = lineOf(kv.first) != 0 ? lineOf(kv.first) : f.line;
    const int valueLine = lineOf(kv.second) != 0 ? lineOf(kv.second) : keyLine;
    if (!kv.first.IsScalar())
      return fail(keyLine, "alpn_routes protocols must be strings, got " + describe(kv.first));
    const std::string& proto = kv.first.Scalar();
    if (proto.empty() || proto.size() > 255)
      return fail(keyLine, "alpn_routes protocol " + inQuotes(proto) + " must be 1 to 255 bytes");
    if (!seen.insert(proto).second)
      return fail(keyLine, "alpn_routes lists protocol " + inQuotes(proto) + " twice");
    if (!kv.second.IsScalar()) {
      return fail(valueLine, "alpn_routes target for " + inQuotes(proto) +
                                 " must be a string, got " + describe(kv.second));
    }
    const std::string& target = kv.second.Scalar();
    if (target.starts_with("builtin:")) {
      if (target != kInspect) {
        return fail(valueLine,
                    "unknown built-in endpoint " + inQuotes(target) + " (known: builtin:inspect)");
      }
    } else if (auto problem = destinationProblem(target, rule.fqdn); !problem.empty()) {
      return fail(valueLine, "alpn_routes target " + inQuotes(target) + ": " + problem);
    }
    rule.alpnRoutes.emplace_back(proto, target);
  }
  return Ok{};
}

Status SniParser::parseProxyProtocol(const Field& f, SniRule& rule) const {
  auto version = oneOf(f);  // v1, v2
  if (!version) return version.error();
  rule.sendProxyProtocol = static_cast<int>(*version) + 1;
  return Ok{};
}

// Per-name session tickets (as ssl_multicert.config's keys of the same names).
Status SniParser::parseTickets(const Field& f, SniRule& rule) const {
  auto text = string(f);
  if (!text) return text.error();
  if (f.name == "ssl_ticket_enabled") {
    if (*text != "0" && *text != "1")
      return fail(f.valueLine(), "ssl_ticket_enabled must be 0 or 1, got " + inQuotes(*text));
    rule.ticketEnabled = *text == "1";
    return Ok{};
  }
  int number = -1;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), number);
  if (ec != std::errc() || end != text->data() + text->size() || number < 0)
    return fail(f.valueLine(),
                "ssl_ticket_number must be a non-negative integer, got " + inQuotes(*text));
  rule.ticketNumber = number;
  return Ok{};
}

// The keys that override ssl.client for the origin of a partial_blind_route (S17-S19).
Status SniParser::parseOriginTls(const Field& f, SniRule& rule) const {
  if (f.name == "origin_alpn") {
    auto names = parseProtocolNames(f, path_, f.name);
    if (!names) return names.error();
    rule.originAlpn = std::move(*names);
    return Ok{};
  }
  if (f.name == "verify_server_policy" || f.name == "verify_server_properties") {
    auto v = oneOf(f);  // the schema lists them in the enums' order
    if (!v) return v.error();
    if (f.name == "verify_server_policy")
      rule.verifyServerPolicy = static_cast<VerifyServerPolicy>(*v);
    else
      rule.verifyServerProperties = static_cast<VerifyServerProperties>(*v);
    return Ok{};
  }
  auto text = string(f);
  if (!text) return text.error();
  const std::string& v = *text;
  if (f.name == "client_cert" || f.name == "client_key") {
    if (v.empty()) return fail(f.valueLine(), f.name + " must name a file");
    (f.name == "client_cert" ? rule.clientCert : rule.clientKey) = resolved(v);
  } else if (f.name == "origin_ca_certs") {
    if (v.empty()) return fail(f.valueLine(), "origin_ca_certs must name a file or a directory");
    rule.originCaCerts = resolved(v);
  } else if (f.name == "client_sni_policy") {
    // ATS's other policies take the name from the HTTP request (Host header, remap).
    if (v != "server_name") {
      return fail(f.valueLine(), "client_sni_policy " + inQuotes(v) +
                                     " is not supported: tlsgate has no HTTP layer, so only "
                                     "server_name (the client's SNI) is");
    }
  } else {  // origin_sni; "" sends none (S18, S19)
    rule.originSni = v;
  }
  return Ok{};
}

// Rules that involve two keys of one item; reported at the line of the second.
Status SniParser::checkItem(const std::vector<Field>& keys, const SniRule& rule) const {
  const Field* min = findField(keys, "valid_tls_version_min_in");
  const Field* max = findField(keys, "valid_tls_version_max_in");
  if (min && max && *rule.minVersion > *rule.maxVersion) {
    return fail(std::max(min->line, max->line), "valid_tls_version_min_in " +
                                                    std::string(versionName(*rule.minVersion)) +
                                                    " is above valid_tls_version_max_in " +
                                                    std::string(versionName(*rule.maxVersion)));
  }
  if (const Field* ca = findField(keys, "verify_client_ca_certs")) {
    const Field* verify = findField(keys, "verify_client");
    if (!verify) return fail(ca->line, "verify_client_ca_certs needs verify_client in the item");
    if (*rule.verifyClient == VerifyClient::kNone) {
      return fail(std::max(ca->line, verify->line),
                  "verify_client_ca_certs needs verify_client MODERATE or STRICT (NONE "
                  "requests no client certificate)");
    }
  }
  const Field* alpn = findField(keys, "alpn_routes");
  if (alpn && rule.action == SniAction::kTunnel) {
    return fail(std::max(alpn->line, findField(keys, "tunnel_route")->line),
                "alpn_routes cannot be used with tunnel_route: a tunnelled connection is not "
                "terminated, so no protocol is negotiated");
  }
  return checkOriginTls(keys, rule);
}

// The origin TLS keys need a TLS origin, and a client certificate needs its key; both are
// reported at the item's line.
Status SniParser::checkOriginTls(const std::vector<Field>& keys, const SniRule& rule) const {
  for (const Field& f : keys) {
    if (isOriginTlsKey(f.name) && rule.action != SniAction::kPartialBlind) {
      return fail(rule.line, f.name +
                                 " applies to partial_blind_route only (the one route that "
                                 "speaks TLS to the origin)");
    }
  }
  auto problem = certKeyPairProblem(rule.clientCert, rule.clientKey, "client_cert", "client_key");
  if (!problem.empty()) return fail(rule.line, problem + " in the item");
  const Field* policy = findField(keys, "client_sni_policy");
  const Field* sni = findField(keys, "origin_sni");
  if (policy && sni) {
    return fail(std::max(policy->line, sni->line),
                "origin_sni and client_sni_policy cannot both be set: client_sni_policy "
                "server_name sends the client's SNI, origin_sni sends the name it gives");
  }
  return Ok{};
}

}  // namespace

void SniConfig::index() {
  std::vector<std::string_view> fqdns;
  fqdns.reserve(rules.size());
  for (const SniRule& rule : rules) fqdns.push_back(rule.fqdn);
  index_ = proxy::NameIndex(fqdns);
  warnings.clear();
  for (size_t i = 0; i < rules.size(); ++i) {
    if (auto shadow = index_.shadowedBy()[i]) {
      warnings.push_back({path, rules[i].line,
                          "the item for fqdn " + inQuotes(rules[i].fqdn) +
                              " is never used: the item at line " +
                              std::to_string(rules[*shadow].line) + " (fqdn " +
                              inQuotes(rules[*shadow].fqdn) + ") matches first"});
    }
  }
}

SniMatch SniConfig::match(std::string_view sni) const {
  auto m = index_.match(sni);
  if (!m) return {};
  return {&rules[m->index], std::move(m->captures)};
}

Result<SniConfig> parseSniConfig(std::string_view text, const std::string& path) {
  // yaml-cpp reports problems by throwing; none may escape (STYLE rule 6).
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return SniParser(path).parse(root);
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp's guard; its message is "bad file"
    return Error{path, e.mark.is_null() ? 0 : e.mark.line + 1, yaml::tooDeep(e)};
  } catch (const YAML::Exception& e) {
    std::string message = "invalid YAML: " + e.msg;
    // "fqdn: *.example.com" reads as an alias: say what to write instead.
    if (e.msg.find("anchor") != std::string::npos)
      message += " (a wildcard fqdn must be quoted: fqdn: '*.example.com')";
    return Error{path, e.mark.is_null() ? 0 : e.mark.line + 1, message};
  }
}

Result<SniConfig> loadSniConfig(const std::string& path) {
  auto text = readFile(path, file_limit::kConfig);
  if (!text) return text.error();
  return parseSniConfig(*text, path);
}

}  // namespace tlsgate::config
