// The parser of tlsgate.yaml, shared by the files that implement it: gateway_config.cc (the
// top level, listeners, routes, plugins, admin, access log) and ssl_config.cc (ssl: TLS
// towards clients and origins, session resumption). Internal to config/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/gateway_config.h"
#include "config/yaml_fields.h"
#include "core/result.h"

namespace tlsgate::config::detail {

using yaml::describe;
using yaml::Field;
using yaml::lineOf;

inline std::optional<unsigned> parseUnsigned(const YAML::Node& node) {
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
  // The keys of a mapping at `scope` of the schema (config/schema.h).
  Result<std::vector<Field>> fields(const YAML::Node& node, int line, const std::string& label,
                                    std::string_view scope) const;
  Result<size_t> oneOf(const Field& f, std::string_view scope) const;
  Result<std::string> string(const Field& f) const;

  Status checkWhole(const GatewayConfig& config, const std::set<std::string>& seen,
                    int routesLine) const;
  Status parseThreads(const Field& f, GatewayConfig& config) const;
  Status parseListeners(const Field& f, GatewayConfig& config) const;
  Status parseSsl(const Field& f, SslConfig& ssl) const;
  Status parseSslField(const Field& f, SslConfig& ssl) const;
  Status parseSslText(const Field& f, SslConfig& ssl) const;
  Status parseCertStoreField(const Field& f, SslConfig& ssl) const;
  Status parseClient(const Field& f, ClientTlsConfig& client) const;
  Status parseClientField(const Field& f, ClientTlsConfig& client) const;
  Status groupList(const Field& f, const std::string& list) const;
  Status parseProtocols(const Field& f, SslConfig& ssl) const;
  Status parseServer(const Field& f, ServerTlsConfig& server) const;
  Status parseTicketKey(const Field& f, TicketKeyConfig& ticketKey) const;
  Status parseTicketRedis(const Field& f, TicketRedisConfig& redis) const;
  Status parseSession(const Field& f, ServerTlsConfig& server) const;
  Result<bool> boolean(const Field& f) const;
  Result<unsigned> count(const Field& f, const std::string& unit) const;
  Result<std::string> filePath(const Field& f, const std::string& what = "a file") const;
  Status originFile(const Field& f, std::string& caCerts, std::string& cert,
                    std::string& key) const;
  Status parseListener(const YAML::Node& node, int line, ListenerConfig& listener) const;
  Status parseRoutes(const Field& f, RoutesConfig& routes) const;
  Result<RouteTarget> parseRoute(const Field& f) const;
  Result<RouteTarget> parseRouteMapping(const Field& f) const;
  Status parseRouteTls(const Field& f, RouteTarget& target) const;
  Status parseTimeoutSection(const Field& f, unsigned& seconds) const;
  Status parsePlugins(const Field& f, GatewayConfig& config) const;
  Status parseAdmin(const Field& f, GatewayConfig& config) const;
  Status parseAccessLog(const Field& f, GatewayConfig& config) const;

  const std::string& path_;
  std::filesystem::path dir_;
};

}  // namespace tlsgate::config::detail
