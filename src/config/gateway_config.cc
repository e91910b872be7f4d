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

#include "config/yaml_fields.h"
#include "core/read_file.h"

namespace tlsgate::config {

namespace {

using yaml::describe;
using yaml::Field;
using yaml::lineOf;

std::optional<unsigned> parseUnsigned(const YAML::Node& node) {
  if (!node.IsScalar()) return {};
  const std::string& s = node.Scalar();
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return {};
  return v;
}

class Parser {
 public:
  explicit Parser(const std::string& path)
      : path_(path), dir_(std::filesystem::path(path).parent_path()) {}

  Result<GatewayConfig> parse(const YAML::Node& root);

 private:
  Error fail(int line, std::string message) const { return Error{path_, line, std::move(message)}; }
  Result<std::vector<Field>> fields(const YAML::Node& node, int line, const std::string& label,
                                    std::initializer_list<std::string_view> allowed) const;
  Result<std::string> string(const Field& f) const;

  Status parseThreads(const Field& f, GatewayConfig& config) const;
  Status parseListeners(const Field& f, GatewayConfig& config) const;
  Status parseSsl(const Field& f, SslConfig& ssl) const;
  Status parseSslField(const Field& f, SslConfig& ssl) const;
  Status parseAlpn(const Field& f, SslConfig& ssl) const;
  Status parseProtocols(const Field& f, SslConfig& ssl) const;
  Status parseRoutes(const Field& f, RouteTarget& route) const;
  Status parsePlugins(const Field& f, GatewayConfig& config) const;

  const std::string& path_;
  std::filesystem::path dir_;
};

// Every mapping goes through here: keys must be strings, known and written once.
Result<std::vector<Field>> Parser::fields(const YAML::Node& node, int line,
                                          const std::string& label,
                                          std::initializer_list<std::string_view> allowed) const {
  return yaml::fields(path_, node, line, label, {.allowed = {allowed.begin(), allowed.size()}});
}

Result<std::string> Parser::string(const Field& f) const {
  if (!f.value.IsScalar())
    return fail(f.valueLine(), f.label + " must be a string, got " + describe(f.value));
  return f.value.Scalar();
}

Result<GatewayConfig> Parser::parse(const YAML::Node& root) {
  if (root.IsNull()) return fail(0, "the file is empty: expected listeners, ssl and routes");
  auto top = fields(root, lineOf(root), "", {"threads", "listeners", "ssl", "routes", "plugins"});
  if (!top) return top.error();

  GatewayConfig config;
  config.path = path_;
  config.threads = std::max(1u, std::thread::hardware_concurrency());  // absent means auto
  std::set<std::string> seen;
  for (const auto& f : *top) {
    seen.insert(f.name);
    Status st = f.name == "threads"     ? parseThreads(f, config)
                : f.name == "listeners" ? parseListeners(f, config)
                : f.name == "ssl"       ? parseSsl(f, config.ssl)
                : f.name == "plugins"   ? parsePlugins(f, config)
                                        : parseRoutes(f, config.defaultRoute);
    if (!st) return st.error();
  }
  for (const char* required : {"listeners", "ssl", "routes"}) {
    if (!seen.contains(required))
      return fail(0, std::string("missing required key '") + required + "'");
  }
  return config;
}

Status Parser::parseThreads(const Field& f, GatewayConfig& config) const {
  if (f.value.IsScalar() && f.value.Scalar() == "auto") {
    config.threads = std::max(1u, std::thread::hardware_concurrency());
    return Ok{};
  }
  auto n = parseUnsigned(f.value);
  if (!n || *n == 0) {
    return fail(f.valueLine(),
                "threads must be a positive integer or 'auto', got " + describe(f.value));
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
    auto keys = fields(node, listener.line, "listener", {"listen"});
    if (!keys) return keys.error();
    if (keys->empty()) return fail(listener.line, "listener: missing required key 'listen'");
    const Field& listen = keys->front();
    auto text = string(listen);
    if (!text) return text.error();
    auto address = net::parseAddress(*text, true);
    if (!address) {
      return fail(listen.valueLine(), "bad listen address '" + *text +
                                          "': expected a literal address with a port, e.g. "
                                          "127.0.0.1:8443 or \"[::1]:8443\"");
    }
    listener.address = *address;
    config.listeners.push_back(listener);
  }
  return Ok{};
}

Status Parser::parsePlugins(const Field& f, GatewayConfig& config) const {
  if (!f.value.IsSequence())
    return fail(f.valueLine(), "plugins must be a sequence of mappings, got " + describe(f.value));
  for (const auto& node : f.value) {
    PluginConfig plugin;
    plugin.line = lineOf(node);
    if (plugin.line == 0) plugin.line = f.line;
    auto keys = fields(node, plugin.line, "plugin", {"path", "args"});
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

Status Parser::parseSsl(const Field& f, SslConfig& ssl) const {
  auto keys = fields(f.value, f.valueLine(), "ssl",
                     {"multicert", "handshake_timeout_in", "allow_client_renegotiation", "alpn",
                      "protocols", "ciphers", "ciphersuites", "groups", "verify_client",
                      "verify_client_ca_certs"});
  if (!keys) return keys.error();
  bool haveMulticert = false;
  for (const auto& key : *keys) {
    if (auto st = parseSslField(key, ssl); !st) return st;
    haveMulticert = haveMulticert || key.name == "multicert";
  }
  if (!haveMulticert) return fail(f.line, "missing required key 'ssl.multicert'");
  if (ssl.verifyClient != VerifyClient::kNone && ssl.verifyClientCaCerts.empty())
    return fail(f.line, "ssl.verify_client needs ssl.verify_client_ca_certs (the CAs that "
                        "sign client certificates)");
  return Ok{};
}

Status Parser::parseSslField(const Field& f, SslConfig& ssl) const {
  if (f.name == "alpn") return parseAlpn(f, ssl);
  if (f.name == "protocols") return parseProtocols(f, ssl);
  if (f.name == "handshake_timeout_in") {  // S1
    auto seconds = parseUnsigned(f.value);
    if (!seconds) {
      return fail(f.valueLine(),
                  f.label + " must be a non-negative integer (seconds), got " + describe(f.value));
    }
    ssl.handshakeTimeoutSec = *seconds;
    return Ok{};
  }
  auto text = string(f);
  if (!text) return text.error();
  if (f.name == "multicert") {
    if (text->empty()) return fail(f.valueLine(), "ssl.multicert must name a file");
    std::filesystem::path file(*text);
    ssl.multicertPath = file.is_absolute() ? file.string() : (dir_ / file).string();
    ssl.multicertLine = f.line;
  } else if (f.name == "allow_client_renegotiation") {  // S12
    const std::string& v = *text;
    if (v == "true" || v == "True" || v == "TRUE")
      ssl.allowClientRenegotiation = true;
    else if (v == "false" || v == "False" || v == "FALSE")
      ssl.allowClientRenegotiation = false;
    else
      return fail(f.valueLine(), f.label + " must be true or false, got '" + v + "'");
  } else if (f.name == "verify_client") {
    const std::string& v = *text;
    if (v == "NONE") ssl.verifyClient = VerifyClient::kNone;
    else if (v == "MODERATE") ssl.verifyClient = VerifyClient::kModerate;
    else if (v == "STRICT") ssl.verifyClient = VerifyClient::kStrict;
    else return fail(f.valueLine(), f.label + " must be NONE, MODERATE or STRICT, got '" + v + "'");
  } else if (f.name == "verify_client_ca_certs") {
    if (text->empty()) return fail(f.valueLine(), f.label + " must name a file");
    std::filesystem::path file(*text);
    ssl.verifyClientCaCerts = file.is_absolute() ? file.string() : (dir_ / file).string();
  } else if (f.name == "ciphers") {
    ssl.ciphers = *text;
  } else if (f.name == "ciphersuites") {
    ssl.ciphersuites = *text;
  } else {
    ssl.groups = *text;
  }
  return Ok{};
}

// S14: the server's ALPN preference order; names are RFC 7301 protocol ids (1..255 bytes).
Status Parser::parseAlpn(const Field& f, SslConfig& ssl) const {
  if (!f.value.IsSequence()) {
    return fail(f.valueLine(),
                f.label + " must be a sequence of protocol names, got " + describe(f.value));
  }
  std::vector<std::string> names;
  for (const auto& node : f.value) {
    const int line = lineOf(node) != 0 ? lineOf(node) : f.line;
    if (!node.IsScalar())
      return fail(line, f.label + " entries must be strings, got " + describe(node));
    const std::string& name = node.Scalar();
    if (name.empty() || name.size() > 255) {
      return fail(line, f.label + " entry '" + name + "' must be 1 to 255 bytes long");
    }
    if (std::find(names.begin(), names.end(), name) != names.end())
      return fail(line, f.label + " lists '" + name + "' twice");
    names.push_back(name);
  }
  ssl.alpn = std::move(names);
  return Ok{};
}

Status Parser::parseProtocols(const Field& f, SslConfig& ssl) const {
  if (!f.value.IsSequence() || f.value.size() == 0) {
    return fail(
        f.valueLine(),
        f.label + " must be a non-empty sequence of TLSv1.2 / TLSv1.3, got " + describe(f.value));
  }
  std::optional<TlsVersion> lo, hi;
  for (const auto& node : f.value) {
    const int line = lineOf(node) != 0 ? lineOf(node) : f.line;
    std::optional<TlsVersion> v;
    if (node.IsScalar() && node.Scalar() == "TLSv1.2") v = TlsVersion::kTls12;
    if (node.IsScalar() && node.Scalar() == "TLSv1.3") v = TlsVersion::kTls13;
    if (!v) {
      return fail(line, "unsupported protocol " + describe(node) + " in " + f.label +
                            " (supported: TLSv1.2, TLSv1.3)");
    }
    if (!lo || *v < *lo) lo = v;
    if (!hi || *v > *hi) hi = v;
  }
  ssl.minVersion = *lo;
  ssl.maxVersion = *hi;
  return Ok{};
}

Status Parser::parseRoutes(const Field& f, RouteTarget& route) const {
  auto keys = fields(f.value, f.valueLine(), "routes", {"default"});
  if (!keys) return keys.error();
  if (keys->empty()) return fail(f.line, "missing required key 'routes.default'");
  const Field& def = keys->front();
  auto text = string(def);
  if (!text) return text.error();
  if (text->starts_with("builtin:")) {
    if (*text != "builtin:inspect") {
      return fail(def.valueLine(),
                  "unknown built-in endpoint '" + *text + "' (known: builtin:inspect)");
    }
    route.inspect = true;
    return Ok{};
  }
  auto upstream = net::resolveHostPort(*text);  // once, at load time
  if (!upstream) return fail(def.valueLine(), def.label + ": " + upstream.error().message);
  route.inspect = false;
  route.upstreamText = *text;
  route.upstream = *upstream;
  return Ok{};
}

}  // namespace

Result<GatewayConfig> parseGatewayConfig(std::string_view text, const std::string& path) {
  // yaml-cpp reports problems by throwing; none may escape (STYLE rule 6).
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return Parser(path).parse(root);
  } catch (const YAML::Exception& e) {
    return Error{path, e.mark.is_null() ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg};
  }
}

Result<GatewayConfig> loadGatewayConfig(const std::string& path) {
  auto text = readFile(path);
  if (!text) return text.error();
  return parseGatewayConfig(*text, path);
}

}  // namespace tlsgate::config
