// tlsgate.yaml's ssl mapping: TLS towards clients (S1, S12, S14, versions, ciphers, groups,
// client certificates), towards origins (ssl.client, S17-S19) and session resumption
// (ssl.server).
#include <optional>

#include "config/gateway_parser.h"
#include "config/ticket_redis_config.h"
#include "config/wire_trace_config.h"
#include "core/log.h"
#include "tls/groups.h"

namespace tlsgate::config::detail {

Status Parser::parseSsl(const Field& f, SslConfig& ssl) const {
  auto keys = fields(f.value, f.valueLine(), "ssl", "ssl");
  if (!keys) return keys.error();
  bool haveMulticert = false;
  for (const auto& key : *keys) {
    if (auto st = parseSslField(key, ssl); !st) return st;
    haveMulticert = haveMulticert || key.name == "multicert";
  }
  if (!haveMulticert) return fail(f.line, "missing required key 'ssl.multicert'");
  if (ssl.verifyClient != VerifyClient::kNone && ssl.verifyClientCaCerts.empty())
    return fail(f.line,
                "ssl.verify_client needs ssl.verify_client_ca_certs (the CAs that "
                "sign client certificates)");
  return Ok{};
}

Status Parser::parseSslField(const Field& f, SslConfig& ssl) const {
  if (f.name == "client") return parseClient(f, ssl.client);
  if (f.name == "server") return parseServer(f, ssl.server);
  if (f.name == "protocols") return parseProtocols(f, ssl);
  if (f.name == "wire_trace") {  // S21
    auto trace = parseWireTrace(f, path_);
    if (!trace) return trace.error();
    ssl.wireTrace = std::move(*trace);
    return Ok{};
  }
  if (f.name == "keylog_file") {
    auto file = filePath(f);
    if (!file) return file.error();
    ssl.keylogFile = *file;
    ssl.keylogLine = f.line;
    return Ok{};
  }
  if (f.name == "alpn") {  // S14
    auto names = parseProtocolNames(f, path_, f.label);
    if (!names) return names.error();
    ssl.alpn = std::move(*names);
    ssl.alpnGiven = true;
    return Ok{};
  }
  if (f.name == "handshake_timeout_in") {  // S1
    auto seconds = count(f, "seconds");
    if (!seconds) return seconds.error();
    ssl.handshakeTimeoutSec = *seconds;
    return Ok{};
  }
  if (f.name == "allow_client_renegotiation") {  // S12
    auto on = boolean(f);
    if (!on) return on.error();
    ssl.allowClientRenegotiation = *on;
    return Ok{};
  }
  if (f.name == "multicert" || f.name == "verify_client_ca_certs") {
    auto file = filePath(f);
    if (!file) return file.error();
    if (f.name == "multicert") {
      ssl.multicertPath = *file;
      ssl.multicertLine = f.line;
    } else {
      ssl.verifyClientCaCerts = *file;
    }
    return Ok{};
  }
  return parseCertStoreField(f, ssl);
}

// The keys of the certificate store at scale (issue 19).
Status Parser::parseCertStoreField(const Field& f, SslConfig& ssl) const {
  if (f.name == "cert_directory") {
    auto directory = parseCertDirectory(f, path_, dir_);
    if (!directory) return directory.error();
    ssl.certDirectory = std::move(*directory);
    return Ok{};
  }
  if (f.name == "multicert_partial_reload") {
    auto on = boolean(f);
    if (!on) return on.error();
    ssl.multicertPartialReload = *on;
    return Ok{};
  }
  if (f.name == "cert_cache_size") {
    auto n = count(f, "certificates");
    if (!n) return n.error();
    if (*n == 0) return fail(f.valueLine(), "ssl.cert_cache_size must be at least 1");
    ssl.certCacheSize = *n;
    return Ok{};
  }
  return parseSslText(f, ssl);
}

// The keys of ssl whose value is one string: the OpenSSL lists and verify_client.
Status Parser::parseSslText(const Field& f, SslConfig& ssl) const {
  if (f.name == "verify_client") {
    auto level = oneOf(f, "ssl");  // NONE, MODERATE, STRICT
    if (!level) return level.error();
    ssl.verifyClient = static_cast<VerifyClient>(*level);
    return Ok{};
  }
  auto text = string(f);
  if (!text) return text.error();
  if (f.name == "ciphers") {
    ssl.ciphers = *text;
  } else if (f.name == "ciphersuites") {
    ssl.ciphersuites = *text;
  } else if (f.name == "groups") {
    if (auto st = groupList(f, *text); !st) return st;
    ssl.groups = *text;
  } else {
    return fail(f.line, "internal: ssl." + f.name + " has no parser");
  }
  return Ok{};
}

// ssl.groups, ssl.client.groups: every group known to the linked OpenSSL.
Status Parser::groupList(const Field& f, const std::string& list) const {
  if (auto st = tls::checkGroups(list); !st)
    return fail(f.valueLine(), f.label + ": " + st.error().message);
  if (tls::usesDefaultKeyword(list))
    log::warning(
        "%s:%d: %s uses DEFAULT: OpenSSL before 3.5.6 loses its group tuples there "
        "(CVE-2026-2673) and may skip post-quantum key exchange; list the groups",
        path_.c_str(), f.valueLine(), f.label.c_str());
  return Ok{};
}

// ssl.client: TLS towards origins (S17-S19). Every key is optional.
Status Parser::parseClient(const Field& f, ClientTlsConfig& client) const {
  auto keys = fields(f.value, f.valueLine(), f.label, "ssl.client");
  if (!keys) return keys.error();
  client.line = f.line;
  for (const Field& k : *keys) {
    if (auto st = parseClientField(k, client); !st) return st;
  }
  auto problem = certKeyPairProblem(client.cert, client.key, f.label + ".cert", f.label + ".key");
  if (!problem.empty()) return fail(f.line, problem);
  return Ok{};
}

Status Parser::parseClientField(const Field& f, ClientTlsConfig& client) const {
  if (f.name == "alpn") {
    auto names = parseProtocolNames(f, path_, f.label);
    if (!names) return names.error();
    client.alpn = std::move(*names);
    return Ok{};
  }
  if (f.name == "handshake_timeout_in" || f.name == "session_cache") {
    const bool timeout = f.name == "handshake_timeout_in";
    auto n = count(f, timeout ? "seconds" : "entries");
    if (!n) return n.error();
    (timeout ? client.handshakeTimeoutSec : client.sessionCache) = *n;
    return Ok{};
  }
  if (f.name == "verify_depth") {
    auto depth = parseUnsigned(f.value);
    if (!depth || *depth < 1 || *depth > 100) {
      return fail(f.valueLine(),
                  f.label + " must be an integer from 1 to 100, got " + describe(f.value));
    }
    client.verifyDepth = *depth;
    return Ok{};
  }
  if (f.name == "ca_certs" || f.name == "cert" || f.name == "key")
    return originFile(f, client.caCerts, client.cert, client.key);
  if (f.name == "groups") {
    auto text = string(f);
    if (!text) return text.error();
    if (auto st = groupList(f, *text); !st) return st;
    client.groups = *text;
    return Ok{};
  }
  if (f.name == "verify_server_policy" || f.name == "verify_server_properties") {
    // The schema lists the values in the enums' order.
    auto v = oneOf(f, "ssl.client");
    if (!v) return v.error();
    if (f.name == "verify_server_policy")
      client.policy = static_cast<VerifyServerPolicy>(*v);
    else
      client.properties = static_cast<VerifyServerProperties>(*v);
    return Ok{};
  }
  return fail(f.line, "internal: ssl.client." + f.name + " has no parser");
}

// ssl.server: session resumption. Every key is optional.
Status Parser::parseServer(const Field& f, ServerTlsConfig& server) const {
  auto keys = fields(f.value, f.valueLine(), f.label, "ssl.server");
  if (!keys) return keys.error();
  server.line = f.line;
  for (const Field& k : *keys) {
    Status st = k.name == "ticket_key" ? parseTicketKey(k, server.ticketKey)
                : k.name == "session"
                    ? parseSession(k, server)
                    : Status(fail(k.line, "internal: " + k.label + " has no parser"));
    if (!st) return st;
  }
  return Ok{};
}

Status Parser::parseTicketKey(const Field& f, TicketKeyConfig& ticketKey) const {
  auto keys = fields(f.value, f.valueLine(), f.label, "ssl.server.ticket_key");
  if (!keys) return keys.error();
  ticketKey.line = f.line;
  bool rotationGiven = false;
  for (const Field& k : *keys) {
    if (k.name == "filename") {
      auto file = filePath(k);
      if (!file) return file.error();
      ticketKey.filename = *file;
      ticketKey.filenameLine = k.line;
    } else if (k.name == "rotation") {
      auto seconds = count(k, "seconds");
      if (!seconds) return seconds.error();
      if (*seconds == 0) return fail(k.valueLine(), k.label + " must be at least 1 second");
      ticketKey.rotationSec = *seconds;
      rotationGiven = true;
    } else if (k.name == "redis") {
      TicketRedisConfig redis;
      if (auto st = parseTicketRedis(k, redis); !st) return st;
      ticketKey.redis = std::move(redis);
    } else {
      return fail(k.line, "internal: " + k.label + " has no parser");
    }
  }
  // One source of keys: a file, a fleet's Redis, or this process's own rotation.
  if (!ticketKey.filename.empty() && ticketKey.redis)
    return fail(f.line, f.label + ": filename and redis exclude each other");
  if (rotationGiven && !ticketKey.filename.empty())
    return fail(f.line, f.label +
                            ".rotation applies to random keys, not to filename (rotate "
                            "the file and reload)");
  return Ok{};
}

Status Parser::parseTicketRedis(const Field& f, TicketRedisConfig& redis) const {
  auto parsed = parseTicketRedisConfig(f, path_, dir_.string());
  if (!parsed) return parsed.error();
  redis = std::move(*parsed);
  return Ok{};
}

Status Parser::parseSession(const Field& f, ServerTlsConfig& server) const {
  auto keys = fields(f.value, f.valueLine(), f.label, "ssl.server.session");
  if (!keys) return keys.error();
  for (const Field& k : *keys) {
    if (k.name == "timeout") {
      auto seconds = count(k, "seconds");
      if (!seconds) return seconds.error();
      if (*seconds == 0) return fail(k.valueLine(), k.label + " must be at least 1 second");
      server.sessionTimeoutSec = *seconds;
      continue;
    }
    auto cache = fields(k.value, k.valueLine(), k.label, "ssl.server.session.cache");
    if (!cache) return cache.error();
    for (const Field& c : *cache) {
      if (c.name == "enabled") {
        auto on = boolean(c);
        if (!on) return on.error();
        server.sessionCache.enabled = *on;
      } else if (c.name != "size") {
        return fail(c.line, "internal: " + c.label + " has no parser");
      } else {
        auto n = count(c, "sessions");
        if (!n) return n.error();
        if (*n == 0)
          return fail(c.valueLine(), c.label + " must be at least 1 (or enabled: false)");
        server.sessionCache.size = *n;
      }
    }
  }
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

}  // namespace tlsgate::config::detail
