#include "config/acme_config.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

#include "config/gateway_config.h"
#include "config/schema.h"
#include "config/ticket_redis_config.h"
#include "config/yaml_fields.h"
#include "tls/cert_loader.h"
#include "tls/on_demand_gate.h"
#include "tls/ossl.h"

namespace tlsgate::config {

namespace {

using yaml::Field;

class AcmeParser {
 public:
  AcmeParser(const std::string& path, const std::string& dir) : path_(path), dir_(dir) {}
  Result<AcmeConfig> parse(const Field& f);

 private:
  Error fail(int line, std::string message) const { return Error{path_, line, std::move(message)}; }
  Result<std::string> text(const Field& f) const;
  Result<std::vector<std::string>> strings(const Field& f) const;
  std::string resolve(const std::string& file) const;
  Status field(const Field& k, AcmeConfig& acme);
  Status parseDirectory(const Field& k, acme::ManagerOptions& o) const;
  Status parseChallenges(const Field& k, acme::ManagerOptions& o) const;
  Status parseRenewRemaining(const Field& k, acme::ManagerOptions& o) const;
  Status parseHttpListener(const Field& k, AcmeConfig& acme) const;
  Status parseCertificates(const Field& k, acme::ManagerOptions& o) const;
  Status parseRedis(const Field& k, AcmeConfig& acme) const;
  Status parseOnDemand(const Field& k, acme::ManagerOptions& o) const;
  Result<int> count(const Field& f, int min) const;
  Status checkAccountKey(const AcmeConfig& acme) const;

  const std::string& path_;
  std::filesystem::path dir_;
  int accountKeyLine_ = 0;
};

Result<std::string> AcmeParser::text(const Field& f) const {
  if (!f.value.IsScalar() || f.value.Scalar().empty())
    return fail(f.valueLine(),
                f.label + " must be a non-empty string, got " + yaml::describe(f.value));
  return f.value.Scalar();
}

// A string, or a non-empty list of strings.
Result<std::vector<std::string>> AcmeParser::strings(const Field& f) const {
  return yaml::stringList(path_, f);
}

std::string AcmeParser::resolve(const std::string& file) const {
  std::filesystem::path p(file);
  return p.is_absolute() || dir_.empty() ? file : (dir_ / p).string();
}

Result<AcmeConfig> AcmeParser::parse(const Field& f) {
  auto keys =
      yaml::fields(path_, f.value, f.valueLine(), f.label, schema::keySet("tlsgate.yaml", "acme"));
  if (!keys) return keys.error();
  AcmeConfig acme;
  acme.line = f.line;
  acme.options.stateDir = resolve("acme");
  for (const Field& k : *keys)
    if (auto st = field(k, acme); !st) return st.error();
  if (acme.options.directoryUrl.empty())
    return fail(f.line, f.label + ": missing required key 'directory'");
  if (acme.options.certificates.empty() && !acme.options.onDemand)
    return fail(f.line, f.label + ": missing required key 'certificates' (or 'on_demand')");
  if (acme.options.accountKeyFile.empty()) {
    acme.options.accountKeyFile = (std::filesystem::path(acme.options.stateDir) / "account.key");
    accountKeyLine_ = f.line;
  }
  if (auto st = checkAccountKey(acme); !st) return st.error();
  return acme;
}

Status AcmeParser::field(const Field& k, AcmeConfig& acme) {
  acme::ManagerOptions& o = acme.options;
  if (k.name == "directory") return parseDirectory(k, o);
  if (k.name == "challenges") return parseChallenges(k, o);
  if (k.name == "renew_remaining") return parseRenewRemaining(k, o);
  if (k.name == "http_listener") return parseHttpListener(k, acme);
  if (k.name == "certificates") return parseCertificates(k, o);
  if (k.name == "redis") return parseRedis(k, acme);
  if (k.name == "on_demand") return parseOnDemand(k, o);
  if (k.name == "contact") {
    auto list = strings(k);
    if (!list) return list.error();
    o.contact = std::move(*list);
    return Ok{};
  }
  auto value = text(k);
  if (!value) return value.error();
  if (k.name == "key_type") {
    if (*value != "ecdsa" && *value != "rsa")
      return fail(k.valueLine(), k.label + " must be ecdsa or rsa, got '" + *value + "'");
    o.keyType = *value == "rsa" ? acme::CertKeyType::kRsa2048 : acme::CertKeyType::kEcdsaP256;
  } else if (k.name == "ca_file") {
    o.caFile = resolve(*value);
    ossl::UniquePtr<X509_STORE> store(X509_STORE_new());
    if (auto st = tls::loadCaFile(store.get(), o.caFile); !st)
      return fail(k.valueLine(), k.label + ": " + st.error().toString());
  } else if (k.name == "account_key") {
    o.accountKeyFile = resolve(*value);
    accountKeyLine_ = k.valueLine();
  } else {  // state_dir
    o.stateDir = resolve(*value);
  }
  return Ok{};
}

// RFC 8555 section 7.1.1: the directory is an HTTPS URL.
Status AcmeParser::parseDirectory(const Field& k, acme::ManagerOptions& o) const {
  auto url = text(k);
  if (!url) return url.error();
  constexpr std::string_view kScheme = "https://";
  const bool ok = url->starts_with(kScheme) && url->size() > kScheme.size() &&
                  url->find_first_of(" \t\r\n") == std::string::npos &&
                  (*url)[kScheme.size()] != '/';
  if (!ok)
    return fail(k.valueLine(), "bad " + k.label + " '" + *url +
                                   "': expected the https:// URL of an ACME directory");
  o.directoryUrl = *url;
  return Ok{};
}

Status AcmeParser::parseChallenges(const Field& k, acme::ManagerOptions& o) const {
  auto list = strings(k);
  if (!list) return list.error();
  for (const auto& c : *list)
    if (c != "tls-alpn-01" && c != "http-01")
      return fail(k.valueLine(), k.label + ": unknown challenge '" + c +
                                     "' (tls-alpn-01 and http-01 are answered by tlsgate)");
  o.challenges = std::move(*list);
  return Ok{};
}

Status AcmeParser::parseRenewRemaining(const Field& k, acme::ManagerOptions& o) const {
  double v = 0;
  const std::string s = k.value.IsScalar() ? k.value.Scalar() : "";
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v <= 0 ||
      v >= 1)
    return fail(k.valueLine(), k.label + " must be a share of the lifetime between 0 and 1, got " +
                                   yaml::describe(k.value));
  o.renewRemaining = v;
  return Ok{};
}

Status AcmeParser::parseHttpListener(const Field& k, AcmeConfig& acme) const {
  auto keys = yaml::fields(path_, k.value, k.valueLine(), k.label,
                           schema::keySet("tlsgate.yaml", "acme.http_listener"));
  if (!keys) return keys.error();
  AcmeHttpListener listener;
  bool haveAddress = false;
  for (const Field& h : *keys) {
    auto value = text(h);
    if (!value) return value.error();
    if (h.name == "address") {
      auto address = net::parseAddress(*value, /*requirePort=*/true);
      if (!address)
        return fail(h.valueLine(), "bad " + h.label + " '" + *value + "': expected address:port");
      listener.address = *address;
      haveAddress = true;
    } else if (*value == "true" || *value == "false") {
      listener.redirectHttps = *value == "true";
    } else {
      return fail(h.valueLine(), h.label + " must be true or false, got '" + *value + "'");
    }
  }
  if (!haveAddress) return fail(k.line, k.label + ": missing required key 'address'");
  acme.httpListener = listener;
  return Ok{};
}

Status AcmeParser::parseCertificates(const Field& k, acme::ManagerOptions& o) const {
  if (!k.value.IsSequence() || k.value.size() == 0)
    return fail(k.valueLine(),
                k.label + " must be a non-empty list, got " + yaml::describe(k.value));
  std::set<std::string> seen;
  int index = 0;
  for (const auto& item : k.value) {
    const int line = yaml::lineOf(item) ? yaml::lineOf(item) : k.line;
    const std::string label = k.label + "[" + std::to_string(index++) + "]";
    auto keys = yaml::fields(path_, item, line, label,
                             schema::keySet("tlsgate.yaml", "acme.certificates[]"));
    if (!keys) return keys.error();
    acme::ManagedName cert;
    for (const Field& n : *keys) {  // only "names"
      auto list = strings(n);
      if (!list) return list.error();
      for (std::string name : *list) {
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (std::string problem = tls::acmeNameProblem(name); !problem.empty())
          return fail(n.valueLine(), n.label + ": '" + name + "': " + problem);
        if (!seen.insert(name).second)
          return fail(n.valueLine(), n.label + ": '" + name + "' is named twice");
        cert.names.push_back(name);
      }
    }
    if (cert.names.empty()) return fail(line, label + ": missing required key 'names'");
    o.certificates.push_back(std::move(cert));
  }
  return Ok{};
}

Status AcmeParser::parseRedis(const Field& k, AcmeConfig& acme) const {
  auto redis = parseTicketRedisConfig(k, path_, dir_.string(), "acme.redis");
  if (!redis) return redis.error();
  acme.redisAddress = redis->address;
  acme.redisPrefix = redis->keyPrefix == "tlsgate:stek:" ? "tlsgate:acme:" : redis->keyPrefix;
  acme.redisPasswordFile = redis->passwordFile;
  acme.redisPasswordFileLine = redis->passwordFileLine;
  acme.redisPollInterval = redis->pollInterval;
  return Ok{};
}

// A whole number of at least `min`.
Result<int> AcmeParser::count(const Field& f, int min) const {
  int v = 0;
  const std::string s = f.value.IsScalar() ? f.value.Scalar() : "";
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < min)
    return fail(f.valueLine(), f.label + " must be a whole number of at least " +
                                   std::to_string(min) + ", got " + yaml::describe(f.value));
  return v;
}

// acme.on_demand: {ask: URL (required), timeout, rate, backoff, fallback}.
Status AcmeParser::parseOnDemand(const Field& k, acme::ManagerOptions& o) const {
  auto keys = yaml::fields(path_, k.value, k.valueLine(), k.label,
                           schema::keySet("tlsgate.yaml", "acme.on_demand"));
  if (!keys) return keys.error();
  acme::OnDemandOptions d;
  for (const Field& h : *keys) {
    if (h.name == "ask" || h.name == "fallback") {
      auto value = text(h);
      if (!value) return value.error();
      const bool url = value->starts_with("http://") || value->starts_with("https://");
      if (h.name == "ask" && (!url || value->find_first_of(" \t\r\n#") != std::string::npos))
        return fail(h.valueLine(),
                    "bad " + h.label + " '" + *value + "': expected an http(s):// URL");
      if (h.name == "fallback" && *value != "default" && *value != "alert")
        return fail(h.valueLine(), h.label + " must be default or alert, got '" + *value + "'");
      if (h.name == "ask")
        d.askUrl = *value;
      else
        d.alertOnRefusal = *value == "alert";
      continue;
    }
    auto n = count(h, h.name == "backoff" ? 0 : 1);
    if (!n) return n.error();
    if (h.name == "timeout")
      d.timeout = std::chrono::seconds(*n);
    else if (h.name == "rate")
      d.ratePerMinute = *n;
    else
      d.backoff = std::chrono::seconds(*n);  // backoff
  }
  if (d.askUrl.empty()) return fail(k.line, k.label + ": missing required key 'ask'");
  o.onDemand = std::move(d);
  return Ok{};
}

// An existing account key must be an ECDSA P-256 key (the account signs with ES256); a
// missing one is created at start.
Status AcmeParser::checkAccountKey(const AcmeConfig& acme) const {
  const std::string& file = acme.options.accountKeyFile;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec) && !ec) return Ok{};
  auto key = tls::readPrivateKeyFile(file);
  if (!key) return fail(accountKeyLine_, "acme.account_key: " + key.error().toString());
  if (EVP_PKEY_get_base_id(key->get()) != EVP_PKEY_EC || EVP_PKEY_get_bits(key->get()) != 256)
    return fail(accountKeyLine_, "acme.account_key: " + file +
                                     ": not an ECDSA P-256 key (the account signs with ES256)");
  return Ok{};
}

}  // namespace

Result<AcmeConfig> parseAcme(const yaml::Field& f, const std::string& path,
                             const std::string& dir) {
  return AcmeParser(path, dir).parse(f);
}

Result<acme::ManagerOptions> acmeOptions(const AcmeConfig& acme, const std::string& path) {
  acme::ManagerOptions options = acme.options;
  if (acme.redisAddress.empty()) return options;
  TicketRedisConfig redis;
  redis.passwordFile = acme.redisPasswordFile;
  redis.passwordFileLine = acme.redisPasswordFileLine;
  auto password = readRedisPassword(redis, path);
  if (!password) return password.error();
  acme::FleetOptions fleet;
  const auto colon = acme.redisAddress.rfind(':');
  fleet.host = acme.redisAddress.substr(0, colon);
  if (fleet.host.starts_with('[')) fleet.host = fleet.host.substr(1, fleet.host.size() - 2);
  fleet.port = static_cast<uint16_t>(std::stoi(acme.redisAddress.substr(colon + 1)));
  fleet.keyPrefix = acme.redisPrefix;
  fleet.password = std::move(*password);
  fleet.pollInterval = acme.redisPollInterval;
  options.fleet = std::move(fleet);
  return options;
}

}  // namespace tlsgate::config
