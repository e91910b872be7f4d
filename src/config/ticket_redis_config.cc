#include "config/ticket_redis_config.h"

#include <charconv>
#include <cmath>
#include <filesystem>

#include <openssl/crypto.h>

#include "config/schema.h"
#include "config/yaml_fields.h"
#include "core/read_file.h"
#include "tls/ticket_key_source.h"

namespace tlsgate::config {

namespace {

constexpr double kMaxPollSeconds = 60;

// "host:port" or "[v6]:port"; false when malformed.
bool splitAddress(const std::string& text, std::string& host, uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return false;  // an IPv6 address needs brackets
  }
  if (host.empty() || host.find_first_of("[]") != std::string::npos) return false;
  const std::string portText = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), value);
  if (portText.empty() || ec != std::errc() || end != portText.data() + portText.size() ||
      value == 0 || value > 65535)
    return false;
  port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

Result<TicketRedisConfig> parseTicketRedisConfig(const yaml::Field& f, const std::string& path,
                                                 const std::string& dir, std::string_view scope) {
  auto keys =
      yaml::fields(path, f.value, f.valueLine(), f.label, schema::keySet("tlsgate.yaml", scope));
  if (!keys) return keys.error();
  auto fail = [&path](int line, std::string message) {
    return Error{path, line, std::move(message)};
  };
  TicketRedisConfig redis;
  redis.line = f.line;
  bool haveAddress = false;
  for (const yaml::Field& k : *keys) {
    if (!k.value.IsScalar())
      return fail(k.valueLine(), k.label + " must be a string, got " + yaml::describe(k.value));
    const std::string& text = k.value.Scalar();
    if (k.name == "address") {
      if (!splitAddress(text, redis.host, redis.port))
        return fail(k.valueLine(),
                    "bad " + k.label + " '" + text + "': expected host:port or [IPv6]:port");
      redis.address = text;
      haveAddress = true;
    } else if (k.name == "key_prefix") {
      if (text.empty()) return fail(k.valueLine(), k.label + " must not be empty");
      redis.keyPrefix = text;
    } else if (k.name == "password_file") {
      if (text.empty()) return fail(k.valueLine(), k.label + " must name a file");
      std::filesystem::path file(text);
      redis.passwordFile =
          file.is_absolute() || dir.empty() ? text : (std::filesystem::path(dir) / file).string();
      redis.passwordFileLine = k.valueLine();
    } else {
      double seconds = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
      if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
          seconds < 0.01 || seconds > kMaxPollSeconds)
        return fail(k.valueLine(),
                    k.label + " must be a number of seconds from 0.01 to 60, got '" + text + "'");
      redis.pollInterval = std::chrono::milliseconds(std::lround(seconds * 1000));
    }
  }
  if (!haveAddress) return fail(f.line, f.label + ": missing required key 'address'");
  return redis;
}

Result<std::string> readRedisPassword(const TicketRedisConfig& redis, const std::string& path) {
  if (redis.passwordFile.empty()) return std::string();
  auto text = readFile(redis.passwordFile, file_limit::kPassword);
  if (!text) return Error{path, redis.passwordFileLine, text.error().toString()};
  std::string password = text->substr(0, text->find_first_of("\r\n"));
  OPENSSL_cleanse(text->data(), text->size());
  if (password.empty())
    return Error{path, redis.passwordFileLine, redis.passwordFile + ": the password is empty"};
  return password;
}

Result<tls::TicketRedisOptions> ticketRedisOptions(const GatewayConfig& config) {
  const ServerTlsConfig& server = config.ssl.server;
  const TicketRedisConfig& redis = *server.ticketKey.redis;
  auto password = readRedisPassword(redis, config.path);
  if (!password) return password.error();
  tls::TicketRedisOptions options;
  options.host = redis.host;
  options.port = redis.port;
  options.keyPrefix = redis.keyPrefix;
  options.password = std::move(*password);
  options.pollInterval = redis.pollInterval;
  options.rotation = std::chrono::seconds(server.ticketKey.rotationSec);
  options.ticketLifetime = std::chrono::seconds(server.sessionTimeoutSec);
  // The schedule writes the next key 3 poll intervals ahead: a rotation must be longer.
  if (options.rotation <= 3 * options.pollInterval)
    return Error{config.path, server.ticketKey.line,
                 "ssl.server.ticket_key.rotation must be longer than 3 x redis.poll_interval"};
  return options;
}

}  // namespace tlsgate::config
