#include "config/gateway_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "config/admission_config.h"
#include "config/gateway_parser.h"
#include "config/schema.h"
#include "config/ticket_redis_config.h"
#include "config/yaml_fields.h"
#include "core/log.h"
#include "core/read_file.h"
#include "tls/groups.h"

namespace tlsgate::config {

namespace detail {

// Every mapping goes through here: keys must be strings, known and written once.
Result<std::vector<Field>> Parser::fields(const YAML::Node& node, int line,
                                          const std::string& label, std::string_view scope) const {
  return yaml::fields(path_, node, line, label, schema::keySet("tlsgate.yaml", scope));
}

// An enumeration's value, as its position among the schema's allowed values.
Result<size_t> Parser::oneOf(const Field& f, std::string_view scope) const {
  auto text = string(f);
  if (!text) return text.error();
  return schema::oneOf(path_, f, "tlsgate.yaml", scope, f.label);
}

Result<std::string> Parser::string(const Field& f) const {
  if (!f.value.IsScalar())
    return fail(f.valueLine(), f.label + " must be a string, got " + describe(f.value));
  return f.value.Scalar();
}

Result<GatewayConfig> Parser::parse(const YAML::Node& root) {
  if (root.IsNull()) return fail(0, "the file is empty: expected listeners, ssl and routes");
  auto top = fields(root, lineOf(root), "", "");
  if (!top) return top.error();

  GatewayConfig config;
  config.path = path_;
  config.threads = std::max(1u, std::thread::hardware_concurrency());  // absent means auto
  std::set<std::string> seen;
  int routesLine = 0;
  for (const auto& f : *top) {
    seen.insert(f.name);
    Status st = Ok{};
    if (f.name == "threads") {
      st = parseThreads(f, config);
    } else if (f.name == "listeners") {
      st = parseListeners(f, config);
    } else if (f.name == "ssl") {
      st = parseSsl(f, config.ssl);
    } else if (f.name == "plugins") {
      st = parsePlugins(f, config);
    } else if (f.name == "tunnel") {
      st = parseTimeoutSection(f, config.tunnel.inactivityTimeoutSec);
    } else if (f.name == "relay") {
      st = parseTimeoutSection(f, config.relay.inactivityTimeoutSec);
    } else if (f.name == "inspect") {
      st = parseTimeoutSection(f, config.inspect.requestTimeoutSec);
    } else if (f.name == "admin") {
      st = parseAdmin(f, config);
    } else if (f.name == "acme") {
      auto acme = parseAcme(f, path_, dir_.string());
      if (!acme) return acme.error();
      config.acme = std::move(*acme);
    } else if (f.name == "admission") {
      auto admission = parseAdmission(f, path_);
      if (!admission) return admission.error();
      config.admission = std::move(*admission);
    } else if (f.name == "access_log") {
      st = parseAccessLog(f, config);
    } else if (f.name == "drain_timeout" || f.name == "connect_timeout") {
      auto seconds = count(f, "seconds");
      if (!seconds) return seconds.error();
      (f.name == "drain_timeout" ? config.drainTimeoutSec : config.connectTimeoutSec) = *seconds;
    } else if (f.name == "sni") {
      auto file = filePath(f);
      if (!file) return file.error();
      config.sniPath = *file;
      config.sniLine = f.line;
    } else if (f.name == "routes") {
      st = parseRoutes(f, config.routes);
      routesLine = f.line;
    } else {
      st = fail(f.line, "internal: " + f.name + " has no parser");
    }
    if (!st) return st.error();
  }
  if (auto st = checkWhole(config, seen, routesLine); !st) return st.error();
  return config;
}

// What holds across keys, once all of them are read.
Status Parser::checkWhole(const GatewayConfig& config, const std::set<std::string>& seen,
                          int routesLine) const {
  for (const char* required : {"listeners", "ssl"}) {
    if (!seen.contains(required))
      return fail(0, std::string("missing required key '") + required + "'");
  }
  std::vector<net::Address> listenAddresses;
  for (const ListenerConfig& l : config.listeners) listenAddresses.push_back(l.address);
  if (auto st = checkAdmissionListeners(config.admission, listenAddresses, path_); !st) return st;
  if (!config.routes.defaultRoute && config.routes.alpn.empty() && config.sniPath.empty())
    return fail(routesLine, "nothing to route to: set routes.default, routes.alpn or sni");
  return Ok{};
}

Status Parser::parseThreads(const Field& f, GatewayConfig& config) const {
  if (f.value.IsScalar() && f.value.Scalar() == "auto") {
    config.threads = std::max(1u, std::thread::hardware_concurrency());
    return Ok{};
  }
  // D10: each worker is a thread, an epoll set and a socket per listener; beyond a few
  // hundred there is nothing to gain, and 100000 would fail to start (docs/decisions.md).
  auto n = parseUnsigned(f.value);
  if (!n || *n == 0 || *n > kMaxThreads) {
    return fail(f.valueLine(), "threads must be an integer from 1 to " +
                                   std::to_string(kMaxThreads) + " or 'auto', got " +
                                   describe(f.value));
  }
  config.threads = *n;
  return Ok{};
}

Status Parser::parseListeners(const Field& f, GatewayConfig& config) const {
  if (!f.value.IsSequence() || f.value.size() == 0) {
    return fail(f.valueLine(),
                "listeners must be a non-empty sequence of mappings, got " + describe(f.value));
  }
  for (const auto& node : f.value) {
    ListenerConfig listener;
    listener.line = lineOf(node);
    if (listener.line == 0) listener.line = f.line;
    if (auto st = parseListener(node, listener.line, listener); !st) return st;
    // D6: a second socket on the same address would only share the first one's
    // connections. Port 0 asks for a new port each time: never the same address.
    for (const ListenerConfig& earlier : config.listeners)
      if (listener.address.port() != 0 && earlier.address == listener.address)
        return fail(listener.line, "listener " + listener.address.toString() +
                                       " is already listed at line " +
                                       std::to_string(earlier.line));
    config.listeners.push_back(std::move(listener));
  }
  return Ok{};
}

Status Parser::parseListener(const YAML::Node& node, int line, ListenerConfig& listener) const {
  auto keys = fields(node, line, "listener", "listeners[]");
  if (!keys) return keys.error();
  bool haveListen = false;
  for (const Field& k : *keys) {
    if (k.name == "listen") {
      auto text = string(k);
      if (!text) return text.error();
      auto address = net::parseAddress(*text, true);
      if (!address) {
        return fail(k.valueLine(), "bad listen address '" + *text +
                                       "': expected a literal address with a port, e.g. "
                                       "127.0.0.1:8443 or \"[::1]:8443\"");
      }
      listener.address = *address;
      haveListen = true;
    } else if (k.name == "proxy_protocol_from") {
      if (!k.value.IsSequence() || k.value.size() == 0) {
        return fail(k.valueLine(), k.label +
                                       " must be a non-empty sequence of addresses or "
                                       "CIDR ranges, got " +
                                       describe(k.value));
      }
      for (const auto& item : k.value) {
        if (!item.IsScalar())
          return fail(lineOf(item) ? lineOf(item) : k.line,
                      k.label + " entries must be strings, got " + describe(item));
        listener.proxyProtocolFrom.push_back(item.Scalar());
      }
      listener.proxyProtocolFromLine = k.valueLine();
    } else if (k.name == "max_connections") {
      auto n = count(k, "connections");
      if (!n) return n.error();
      listener.maxConnections = *n;
    } else if (k.name == "transparent" || k.name == "passthrough" || k.name == "proxy_protocol") {
      auto on = boolean(k);
      if (!on) return on.error();
      (k.name == "transparent"   ? listener.transparent
       : k.name == "passthrough" ? listener.passthrough
                                 : listener.proxyProtocol) = *on;
    } else {
      return fail(k.line, "internal: listener." + k.name + " has no parser");
    }
  }
  if (!haveListen) return fail(line, "listener: missing required key 'listen'");
  // Trusting a PROXY header from anyone would let any client choose its own address.
  if (listener.proxyProtocol && listener.proxyProtocolFrom.empty())
    return fail(line,
                "listener.proxy_protocol needs listener.proxy_protocol_from (the "
                "addresses of the proxies allowed to send the header)");
  if (!listener.proxyProtocol && !listener.proxyProtocolFrom.empty())
    return fail(line, "listener.proxy_protocol_from is set but proxy_protocol is not true");
  return Ok{};
}

Result<bool> Parser::boolean(const Field& f) const {
  auto text = string(f);
  if (!text) return text.error();
  const std::string& v = *text;
  if (v == "true" || v == "True" || v == "TRUE") return true;
  if (v == "false" || v == "False" || v == "FALSE") return false;
  return fail(f.valueLine(), f.label + " must be true or false, got '" + v + "'");
}

// A non-negative integer of `unit`s ("seconds", "entries").
Result<unsigned> Parser::count(const Field& f, const std::string& unit) const {
  auto n = parseUnsigned(f.value);
  if (!n) {
    return fail(f.valueLine(), f.label + " must be a non-negative integer (" + unit + "), got " +
                                   describe(f.value));
  }
  return *n;
}

// A file (or, as `what` says, a folder) named in tlsgate.yaml, resolved against the folder of
// tlsgate.yaml. Whether it exists is for the code that opens it to say.
Result<std::string> Parser::filePath(const Field& f, const std::string& what) const {
  auto text = string(f);
  if (!text) return text.error();
  if (text->empty()) return fail(f.valueLine(), f.label + " must name " + what);
  std::filesystem::path file(*text);
  return file.is_absolute() ? file.string() : (dir_ / file).string();
}

// ca_certs, cert and key of ssl.client and of a TLS route: the same keys, the same checks.
Status Parser::originFile(const Field& f, std::string& caCerts, std::string& cert,
                          std::string& key) const {
  auto file = filePath(f, f.name == "ca_certs" ? "a file or a directory" : "a file");
  if (!file) return file.error();
  (f.name == "ca_certs" ? caCerts : f.name == "cert" ? cert : key) = std::move(*file);
  return Ok{};
}

// tunnel, relay, inspect: a mapping whose one key is a timeout.
Status Parser::parseTimeoutSection(const Field& f, unsigned& seconds) const {
  auto keys = fields(f.value, f.valueLine(), f.name, f.name);
  if (!keys) return keys.error();
  for (const Field& k : *keys) {
    auto value = count(k, "seconds");
    if (!value) return value.error();
    seconds = *value;
  }
  return Ok{};
}

Status Parser::parseAdmin(const Field& f, GatewayConfig& config) const {
  auto keys = fields(f.value, f.valueLine(), "admin", "admin");
  if (!keys) return keys.error();
  if (keys->empty()) return fail(f.valueLine(), "admin needs listen: address:port");
  AdminConfig admin;
  admin.line = f.line;
  const Field& k = keys->front();
  auto text = string(k);
  if (!text) return text.error();
  auto address = net::parseAddress(*text, true);
  if (!address) {
    return fail(k.valueLine(), "bad admin.listen address '" + *text +
                                   "': expected a literal address with a port, e.g. "
                                   "127.0.0.1:9090");
  }
  admin.address = *address;
  config.admin = admin;
  return Ok{};
}

Status Parser::parseAccessLog(const Field& f, GatewayConfig& config) const {
  auto keys = fields(f.value, f.valueLine(), "access_log", "access_log");
  if (!keys) return keys.error();
  if (keys->empty()) return fail(f.valueLine(), "access_log needs path: a file or stderr");
  AccessLogConfig log;
  log.line = f.line;
  const Field& k = keys->front();
  auto text = string(k);
  if (!text) return text.error();
  if (*text == "stderr") {
    log.path = *text;
  } else {
    auto file = filePath(k);
    if (!file) return file.error();
    log.path = *file;
  }
  config.accessLog = log;
  return Ok{};
}

Status Parser::parsePlugins(const Field& f, GatewayConfig& config) const {
  if (!f.value.IsSequence())
    return fail(f.valueLine(), "plugins must be a sequence of mappings, got " + describe(f.value));
  for (const auto& node : f.value) {
    PluginConfig plugin;
    plugin.line = lineOf(node);
    if (plugin.line == 0) plugin.line = f.line;
    auto keys = fields(node, plugin.line, "plugin", "plugins[]");
    if (!keys) return keys.error();
    bool hasPath = false;
    for (const Field& k : *keys) {
      if (k.name == "path") {
        auto text = string(k);
        if (!text) return text.error();
        if (text->empty()) return fail(k.valueLine(), "plugin.path must not be empty");
        std::filesystem::path p(*text);
        plugin.path = p.is_absolute() || dir_.empty() ? *text : (dir_ / p).string();
        hasPath = true;
      } else {
        if (!k.value.IsSequence())
          return fail(k.valueLine(),
                      "plugin.args must be a sequence of strings, got " + describe(k.value));
        for (const auto& arg : k.value) {
          if (!arg.IsScalar())
            return fail(lineOf(arg) ? lineOf(arg) : k.line,
                        "plugin.args must be strings, got " + describe(arg));
          plugin.args.push_back(arg.Scalar());
        }
      }
    }
    if (!hasPath) return fail(plugin.line, "plugin: missing required key 'path'");
    config.plugins.push_back(std::move(plugin));
  }
  return Ok{};
}

Status Parser::parseRoutes(const Field& f, RoutesConfig& routes) const {
  auto keys = fields(f.value, f.valueLine(), "routes", "routes");
  if (!keys) return keys.error();
  for (const Field& k : *keys) {
    if (k.name == "default") {
      auto target = parseRoute(k);
      if (!target) return target.error();
      routes.defaultRoute = std::move(*target);
    } else if (k.name == "send_proxy_protocol") {
      auto version = oneOf(k, "routes");  // v1, v2
      if (!version) return version.error();
      routes.sendProxyProtocol = static_cast<int>(*version) + 1;
    } else if (k.name != "alpn") {
      return fail(k.line, "internal: " + k.label + " has no parser");
    } else {
      // S14: one endpoint per protocol; the file order is the preference order when
      // ssl.alpn does not give one.
      if (!k.value.IsMap())
        return fail(k.valueLine(),
                    k.label + " must map protocol names to endpoints, got " + describe(k.value));
      for (const auto& kv : k.value) {
        const int line = lineOf(kv.first) ? lineOf(kv.first) : k.line;
        if (!kv.first.IsScalar() || kv.first.Scalar().empty() || kv.first.Scalar().size() > 255)
          return fail(line, k.label + " keys must be protocol names of 1 to 255 bytes");
        const std::string& name = kv.first.Scalar();
        for (const auto& [seen, unused] : routes.alpn)
          if (seen == name) return fail(line, k.label + " lists '" + name + "' twice");
        auto target = parseRoute({name, line, kv.second, k.label + "." + name});
        if (!target) return target.error();
        routes.alpn.emplace_back(name, std::move(*target));
      }
    }
  }
  return Ok{};
}

// An endpoint of routes: "builtin:inspect", "host:port", or {upstream, tls, sni}.
Result<RouteTarget> Parser::parseRoute(const Field& f) const {
  if (f.value.IsMap()) return parseRouteMapping(f);
  if (!f.value.IsScalar()) {
    return fail(f.valueLine(), f.label +
                                   " must be builtin:inspect, host:port or a mapping {upstream, "
                                   "tls, sni}, got " +
                                   describe(f.value));
  }
  return parseRouteTarget(f.value.Scalar(), path_, f.valueLine(), f.label);
}

// {upstream: host:port, tls: true, sni: name, cert, key, ca_certs, alpn}; the target's line
// is the route's key.
Result<RouteTarget> Parser::parseRouteMapping(const Field& f) const {
  auto keys = fields(f.value, f.line, f.label, "route");
  if (!keys) return keys.error();
  RouteTarget target;
  bool haveUpstream = false;
  const Field* needsTls = nullptr;  // the first key that only applies with tls: true
  for (const Field& k : *keys) {
    if (k.name == "upstream") {
      auto text = string(k);
      if (!text) return text.error();
      // builtin:inspect terminates here: there is no upstream to speak TLS to.
      if (text->starts_with("builtin:")) {
        return fail(k.valueLine(), k.label + " must be host:port, got '" + *text +
                                       "' (write builtin:inspect as the plain string " + f.label +
                                       ": builtin:inspect)");
      }
      auto resolved = parseRouteTarget(*text, path_, k.valueLine(), k.label);
      if (!resolved) return resolved.error();
      target.upstreamText = std::move(resolved->upstreamText);
      target.upstream = resolved->upstream;
      haveUpstream = true;
    } else if (k.name == "tls") {
      auto on = boolean(k);
      if (!on) return on.error();
      target.tls = *on;
    } else {
      if (auto st = parseRouteTls(k, target); !st) return st.error();
      if (!needsTls) needsTls = &k;
    }
  }
  if (!haveUpstream) return fail(f.line, f.label + ": missing required key 'upstream'");
  target.line = f.line;
  if (needsTls && !target.tls)
    return fail(needsTls->line, needsTls->label + " only applies with tls: true");
  auto problem =
      certKeyPairProblem(target.clientCert, target.clientKey, f.label + ".cert", f.label + ".key");
  if (!problem.empty()) return fail(f.line, problem);
  return target;
}

// The keys of a route mapping that set up TLS to its upstream: this route's own values for
// what ssl.client sets for every origin (S17-S19).
Status Parser::parseRouteTls(const Field& f, RouteTarget& target) const {
  if (f.name == "alpn") {
    auto names = parseProtocolNames(f, path_, f.label);
    if (!names) return names.error();
    target.originAlpn = std::move(*names);
    return Ok{};
  }
  if (f.name == "sni") {
    auto name = string(f);  // "" is allowed: send no SNI (S18, S19)
    if (!name) return name.error();
    target.originSni = std::move(*name);
    return Ok{};
  }
  if (f.name == "ca_certs" || f.name == "cert" || f.name == "key")
    return originFile(f, target.caCerts, target.clientCert, target.clientKey);
  return fail(f.line, "internal: " + f.label + " has no parser");
}

}  // namespace detail

using detail::describe;
using detail::Field;
using detail::lineOf;

Result<RouteTarget> parseRouteTarget(std::string_view text, const std::string& path, int line,
                                     const std::string& label) {
  RouteTarget route;
  route.line = line;
  if (text.starts_with("builtin:")) {
    if (text != "builtin:inspect") {
      return Error{
          path, line,
          "unknown built-in endpoint '" + std::string(text) + "' (known: builtin:inspect)"};
    }
    route.inspect = true;
    return route;
  }
  // A name is looked up when the gateway starts (or reloads), never while parsing: --check
  // opens no socket.
  if (auto st = net::checkHostPort(text); !st)
    return Error{path, line, label + ": " + st.error().message};
  route.upstreamText = std::string(text);
  if (auto literal = net::parseAddress(text, /*requirePort=*/true)) route.upstream = *literal;
  return route;
}

// ssl.alpn (S14, the server's preference order), and what is offered to origins.
Result<std::vector<std::string>> parseProtocolNames(const yaml::Field& f, const std::string& path,
                                                    const std::string& label) {
  auto fail = [&](int line, std::string message) { return Error{path, line, std::move(message)}; };
  if (!f.value.IsSequence()) {
    return fail(f.valueLine(),
                label + " must be a sequence of protocol names, got " + describe(f.value));
  }
  std::vector<std::string> names;
  for (const auto& node : f.value) {
    const int line = lineOf(node) != 0 ? lineOf(node) : f.line;
    if (!node.IsScalar())
      return fail(line, label + " entries must be strings, got " + describe(node));
    const std::string& name = node.Scalar();
    if (name.empty() || name.size() > 255) {
      return fail(line, label + " entry '" + name + "' must be 1 to 255 bytes long");
    }
    if (std::find(names.begin(), names.end(), name) != names.end())
      return fail(line, label + " lists '" + name + "' twice");
    names.push_back(name);
  }
  return names;
}

// S17: a certificate is useless without its key, and a key alone names nothing to present.
std::string certKeyPairProblem(std::string_view cert, std::string_view key,
                               const std::string& certName, const std::string& keyName) {
  if (!cert.empty() && key.empty()) return certName + " needs " + keyName;
  if (cert.empty() && !key.empty()) return keyName + " needs " + certName;
  return "";
}

Result<GatewayConfig> parseGatewayConfig(std::string_view text, const std::string& path) {
  // yaml-cpp reports problems by throwing; none may escape (STYLE rule 6).
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return detail::Parser(path).parse(root);
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp's guard; its message is "bad file"
    return Error{path, e.mark.is_null() ? 0 : e.mark.line + 1, yaml::tooDeep(e)};
  } catch (const YAML::Exception& e) {
    return Error{path, e.mark.is_null() ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg};
  }
}

Result<GatewayConfig> loadGatewayConfig(const std::string& path) {
  auto text = readFile(path, file_limit::kConfig);
  if (!text) return text.error();
  return parseGatewayConfig(*text, path);
}

}  // namespace tlsgate::config
