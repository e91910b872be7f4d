#include "config/schema.h"

#include <map>
#include <mutex>

#include "core/text.h"

namespace tlsgate::config::schema {

namespace {

constexpr std::string_view kYaml = "tlsgate.yaml";
constexpr std::string_view kSni = "sni.yaml";

// The keys, in the order the reference lists them and "expected one of" names them.
constexpr std::string_view y = kYaml, s = kSni;
const Key kTable[] = {
    {y, "", "threads", "integer | auto", "auto", {}, "workers, 1 to 1024; auto = one per core"},
    {y, "", "listeners", "list of mappings", "", {}, "where to accept connections (required)"},
    {y, "", "ssl", "mapping", "", {}, "TLS towards clients (required)"},
    {y, "", "routes", "mapping", "", {}, "where terminated connections go (S14)"},
    {y, "", "sni", "file", "", {}, "ATS sni.yaml: routing and policy per server name"},
    {y, "", "tunnel", "mapping", "", {}, "blind tunnels"},
    {y, "", "relay", "mapping", "", {}, "terminated connections relayed to an upstream"},
    {y, "", "inspect", "mapping", "", {}, "the builtin:inspect endpoint"},
    {y, "", "plugins", "list of mappings", "", {}, "plugins, loaded in order"},
    {y, "", "admin", "mapping", "", {}, "the admin HTTP endpoint (absent: none)"},
    {y, "", "access_log", "mapping", "", {}, "one JSON line per connection (absent: none)"},
    {y, "", "drain_timeout", "seconds", "30", {}, "SIGTERM: time connections get to finish"},
    {y, "", "connect_timeout", "seconds", "10", {}, "resolve + connect to an upstream; 0 = none"},
    {y, "", "admission", "mapping", "", {}, "admission control before the handshake"},
    {y, "", "acme", "mapping", "", {}, "certificates obtained and renewed by ACME"},
    {y, "listeners[]", "listen", "address:port", "", {}, "literal address and port (required)"},
    {y, "listeners[]", "transparent", "boolean", "false", {}, "IP_TRANSPARENT: TPROXY (S5)"},
    {y, "listeners[]", "passthrough", "boolean", "false", {}, "S9: non-TLS bytes are tunnelled"},
    {y, "listeners[]", "proxy_protocol", "boolean", "false", {}, "a PROXY v1/v2 header first"},
    {y, "listeners[]", "max_connections", "integer", "0", {}, "open at once; 0 = no limit"},
    {y,
     "listeners[]",
     "proxy_protocol_from",
     "list of addresses",
     "",
     {},
     "who may send it (required with proxy_protocol)"},
    {y, "ssl", "multicert", "file", "", {}, "ATS ssl_multicert.config (required)"},
    {y, "ssl", "handshake_timeout_in", "seconds", "30", {}, "S1; 0 = none"},
    {y, "ssl", "allow_client_renegotiation", "boolean", "false", {}, "S12"},
    {y,
     "ssl",
     "multicert_partial_reload",
     "boolean",
     "false",
     {},
     "a bad ssl_multicert.config entry is logged and skipped"},
    {y,
     "ssl",
     "cert_cache_size",
     "integer",
     "10000",
     {},
     "parsed certificates kept for handshakes (LRU)"},
    {y,
     "ssl",
     "alpn",
     "list of protocols",
     "what the routes serve",
     {},
     "offered, in server preference order (S14)"},
    {y,
     "ssl",
     "protocols",
     "list of TLS versions",
     "[TLSv1.2, TLSv1.3]",
     {"TLSv1.2", "TLSv1.3"},
     "TLS versions allowed"},
    {y,
     "ssl",
     "ciphers",
     "OpenSSL cipher list",
     "ECDHE AES-GCM and ChaCha20",
     {},
     "TLS 1.2 ciphers"},
    {y,
     "ssl",
     "ciphersuites",
     "OpenSSL suite list",
     "AES-128-GCM:AES-256-GCM:ChaCha20",
     {},
     "TLS 1.3 suites"},
    {y,
     "ssl",
     "groups",
     "OpenSSL group list",
     "X25519MLKEM768:X25519/P-256:P-384",
     {},
     "key exchange groups (without ML-KEM: X25519:P-256:P-384)"},
    {y,
     "ssl",
     "verify_client",
     "one of",
     "NONE",
     {"NONE", "MODERATE", "STRICT"},
     "client certificates (ATS levels)"},
    {y, "ssl", "verify_client_ca_certs", "file", "", {}, "CAs that sign client certificates"},
    {y, "ssl", "client", "mapping", "", {}, "TLS towards origins (S17-S19)"},
    {y, "ssl", "server", "mapping", "", {}, "session resumption"},
    {y, "ssl", "wire_trace", "mapping", "", {}, "S21: trace the handshakes that match"},
    {y, "ssl", "keylog_file", "file", "", {}, "NSS key log of every session (debugging)"},
    {y, "ssl", "cert_directory", "mapping", "", {}, "certificates loaded on demand by name"},
    {y, "ssl.client", "handshake_timeout_in", "seconds", "30", {}, "0 = none"},
    {y,
     "ssl.client",
     "verify_server_policy",
     "one of",
     "ENFORCED",
     {"ENFORCED", "PERMISSIVE", "DISABLED"},
     "what a failed origin verification does"},
    {y,
     "ssl.client",
     "verify_server_properties",
     "one of",
     "ALL",
     {"NONE", "SIGNATURE", "NAME", "ALL"},
     "what is verified"},
    {y, "ssl.client", "ca_certs", "file or folder", "the system store", {}, "CAs of origins"},
    {y, "ssl.client", "verify_depth", "integer 1..100", "7", {}, "chain depth"},
    {y, "ssl.client", "cert", "file", "", {}, "client certificate for origins that ask"},
    {y, "ssl.client", "key", "file", "", {}, "its key (required with cert)"},
    {y,
     "ssl.client",
     "alpn",
     "list of protocols",
     "what the client negotiated",
     {},
     "offered to origins"},
    {y, "ssl.client", "session_cache", "entries", "1024", {}, "origin sessions kept; 0 = off"},
    {y,
     "ssl.client",
     "groups",
     "OpenSSL group list",
     "*X25519MLKEM768:*X25519:P-256:P-384",
     {},
     "offered to origins (without ML-KEM: X25519:P-256:P-384)"},
    {y, "ssl.server", "ticket_key", "mapping", "", {}, "session ticket keys"},
    {y, "ssl.server", "session", "mapping", "", {}, "lifetime and TLS 1.2 cache"},
    {y, "ssl.server.ticket_key", "filename", "file", "", {}, "ATS key file (48-byte keys)"},
    {y, "ssl.server.ticket_key", "rotation", "seconds", "43200", {}, "random keys' rotation"},
    {y, "ssl.server.ticket_key", "redis", "mapping", "", {}, "keys shared by a fleet"},
    {y, "ssl.server.ticket_key.redis", "address", "host:port", "", {}, "Redis (required)"},
    {y,
     "ssl.server.ticket_key.redis",
     "key_prefix",
     "string",
     "tlsgate:stek:",
     {},
     "the fleet's keys live under it"},
    {y, "ssl.server.ticket_key.redis", "password_file", "file", "", {}, "AUTH password"},
    {y,
     "ssl.server.ticket_key.redis",
     "poll_interval",
     "seconds",
     "1",
     {},
     "between reads of the ring (0.01..60)"},
    {y, "ssl.server.session", "timeout", "seconds", "7200", {}, "tickets resume this long"},
    {y, "ssl.server.session", "cache", "mapping", "", {}, "TLS 1.2 session ID cache"},
    {y, "ssl.server.session.cache", "enabled", "boolean", "false", {}, "ATS ships it off"},
    {y, "ssl.server.session.cache", "size", "sessions", "20480", {}, "entries kept"},
    {y, "ssl.wire_trace", "client_ip", "address, CIDR or range", "any", {}, "clients traced"},
    {y, "ssl.wire_trace", "server_name", "string", "any", {}, "SNI traced (exact)"},
    {y, "ssl.wire_trace", "percentage", "integer 0..100", "100", {}, "sampled"},
    {y, "ssl.cert_directory", "path", "folder", "", {}, "<name>.pem files (required)"},
    {y, "ssl.cert_directory", "cache_size", "certificates", "100000", {}, "kept parsed (LRU)"},
    {y,
     "ssl.cert_directory",
     "negative_ttl",
     "seconds",
     "60",
     {},
     "a name without a file stays unknown; 0 = not kept"},
    {y, "ssl.cert_directory", "timeout", "seconds", "5", {}, "a handshake waits for its load"},
    {y, "routes", "default", "route", "", {}, "no ALPN, and protocols without their own"},
    {y, "routes", "alpn", "mapping protocol: route", "", {}, "one route per ALPN protocol"},
    {y,
     "routes",
     "send_proxy_protocol",
     "one of",
     "",
     {"v1", "v2"},
     "a PROXY header to these upstreams"},
    {y, "route", "upstream", "host:port", "", {}, "a route's upstream (mapping form)"},
    {y, "route", "tls", "boolean", "false", {}, "re-encrypt to it (ssl.client settings)"},
    {y, "route", "sni", "string", "the client's", {}, "the name sent to it; '' = none"},
    {y, "route", "cert", "file", "ssl.client.cert", {}, "this route's client certificate"},
    {y, "route", "key", "file", "ssl.client.key", {}, "its key"},
    {y, "route", "ca_certs", "file or folder", "ssl.client.ca_certs", {}, "CAs of this origin"},
    {y, "route", "alpn", "list of protocols", "ssl.client.alpn", {}, "offered to this origin"},
    {y, "tunnel", "inactivity_timeout", "seconds", "300", {}, "silent tunnels close; 0 = never"},
    {y, "relay", "inactivity_timeout", "seconds", "300", {}, "silent relays close; 0 = never"},
    {y, "inspect", "request_timeout", "seconds", "30", {}, "per request, from the last; 0 = none"},
    {y, "plugins[]", "path", "file", "", {}, "the shared object (required)"},
    {y, "plugins[]", "args", "list of strings", "", {}, "its arguments"},
    {y, "admin", "listen", "address:port", "", {}, "the endpoint's address (required)"},
    {y, "access_log", "path", "file | stderr", "", {}, "where the lines go (required)"},
    {y, "admission", "source_prefix_v4", "0..32", "32", {}, "how IPv4 sources are grouped"},
    {y, "admission", "source_prefix_v6", "0..128", "64", {}, "how IPv6 sources are grouped"},
    {y, "admission", "max_connections", "integer", "0", {}, "open at once, all; 0 = no limit"},
    {y, "admission", "max_handshakes", "integer", "0", {}, "in progress, all; 0 = no limit"},
    {y, "admission", "per_source_connections", "integer", "0", {}, "per source; 0 = no limit"},
    {y,
     "admission",
     "per_source_handshakes",
     "integer",
     "0",
     {},
     "in progress per source (slowloris); 0 = no limit"},
    {y, "admission", "shed", "mapping", "", {}, "load shedding by cost"},
    {y, "admission", "rules", "list of mappings", "", {}, "first match wins"},
    {y,
     "admission.shed",
     "enabled",
     "boolean",
     "false",
     {},
     "shed full handshakes when overloaded"},
    {y, "admission.shed", "max_loop_lag_ms", "milliseconds", "10", {}, "overloaded past this lag"},
    {y,
     "admission.shed",
     "max_handshakes",
     "integer",
     "0",
     {},
     "or past this many in progress per worker; 0 = lag only"},
    {y, "admission.rules[]", "source", "CIDR or list", "any", {}, "match: client addresses"},
    {y, "admission.rules[]", "listener", "address:port or list", "any", {}, "match: listeners"},
    {y, "admission.rules[]", "sni", "name or list", "any", {}, "match: exact names or wildcards"},
    {y, "admission.rules[]", "ja4", "fingerprint or list", "any", {}, "match: JA4"},
    {y, "admission.rules[]", "action", "one of", "allow", {"allow", "deny", "limit"}, ""},
    {y, "admission.rules[]", "deny_with", "one of", "close", {"close", "alert"}, "deny: how"},
    {y, "admission.rules[]", "per", "one of", "source", {"source", "sni", "ja4"}, "limit: by"},
    {y, "admission.rules[]", "connections_per_second", "number", "", {}, "limit: new connections"},
    {y, "admission.rules[]", "connection_burst", "number", "the rate", {}, "limit: bucket size"},
    {y, "admission.rules[]", "handshakes_per_second", "number", "", {}, "limit: full handshakes"},
    {y, "admission.rules[]", "handshake_burst", "number", "the rate", {}, "limit: bucket size"},
    {y, "acme", "directory", "https URL", "", {}, "the ACME server's directory (required)"},
    {y, "acme", "ca_file", "file", "system CAs", {}, "verifies the ACME server"},
    {y, "acme", "contact", "list of URLs", "", {}, "the account's contacts (mailto:)"},
    {y, "acme", "account_key", "file", "state_dir/account.key", {}, "ES256 key; created 0600"},
    {y, "acme", "state_dir", "folder", "acme", {}, "certificates and keys (0600) kept here"},
    {y, "acme", "key_type", "one of", "ecdsa", {"ecdsa", "rsa"}, "P-256 or RSA-2048"},
    {y,
     "acme",
     "challenges",
     "list",
     "tls-alpn-01, http-01",
     {"tls-alpn-01", "http-01"},
     "preference order"},
    {y, "acme", "renew_remaining", "share", "0.33", {}, "renew when this much lifetime is left"},
    {y, "acme", "http_listener", "mapping", "", {}, "plaintext HTTP for http-01"},
    {y, "acme", "redis", "mapping", "", {}, "fleet mode: state shared through Redis"},
    {y, "acme", "certificates", "list of mappings", "", {}, "what to obtain (or on_demand)"},
    {y, "acme", "on_demand", "mapping", "", {}, "certificates ordered at the first handshake"},
    {y, "acme.certificates[]", "names", "list of names", "", {}, "the first is its id"},
    {y, "acme.on_demand", "ask", "http URL", "", {}, "GET ?domain=<name>: 200 allows (required)"},
    {y, "acme.on_demand", "timeout", "seconds", "20", {}, "how long a handshake waits"},
    {y, "acme.on_demand", "rate", "number", "10", {}, "orders per minute, all names"},
    {y, "acme.on_demand", "backoff", "seconds", "600", {}, "a refused name is not asked again"},
    {y, "acme.on_demand", "fallback", "one of", "default", {"default", "alert"}, "refused: serve"},
    {y, "acme.http_listener", "address", "address:port", "", {}, "e.g. 0.0.0.0:80 (required)"},
    {y,
     "acme.http_listener",
     "redirect_https",
     "boolean",
     "true",
     {},
     "other requests: 308 to https"},
    {y, "acme.redis", "address", "host:port", "", {}, "Redis (required)"},
    {y, "acme.redis", "key_prefix", "string", "tlsgate:acme:", {}, "the fleet's state under it"},
    {y, "acme.redis", "password_file", "file", "", {}, "AUTH password"},
    {y, "acme.redis", "poll_interval", "seconds", "1", {}, "between reads of the shared state"},
    {s, "", "sni", "list of items", "", {}, "one item per server name pattern"},
    {s, "sni[]", "fqdn", "name pattern", "", {}, "'name', '*.suffix', '*' or '' (required)"},
    {s, "sni[]", "tunnel_route", "host:port", "", {}, "blind tunnel ($1, {inbound_local_port})"},
    {s, "sni[]", "forward_route", "host:port", "", {}, "TLS ends here, plaintext on"},
    {s, "sni[]", "partial_blind_route", "host:port", "", {}, "TLS ends here, re-encrypted"},
    {s, "sni[]", "ip_allow", "list of addresses", "", {}, "only these clients"},
    {s, "sni[]", "valid_tls_version_min_in", "one of", "", {"TLSv1_2", "TLSv1_3"}, ""},
    {s, "sni[]", "valid_tls_version_max_in", "one of", "", {"TLSv1_2", "TLSv1_3"}, ""},
    {s, "sni[]", "verify_client", "one of", "", {"NONE", "MODERATE", "STRICT"}, ""},
    {s, "sni[]", "verify_client_ca_certs", "file", "", {}, "CAs for this name's clients"},
    {s, "sni[]", "alpn_routes", "mapping protocol: destination", "", {}, "per protocol"},
    {s, "sni[]", "send_proxy_protocol", "one of", "", {"v1", "v2"}, "to the destination"},
    {s,
     "sni[]",
     "verify_server_policy",
     "one of",
     "ssl.client's",
     {"ENFORCED", "PERMISSIVE", "DISABLED"},
     "partial_blind_route only"},
    {s,
     "sni[]",
     "verify_server_properties",
     "one of",
     "ssl.client's",
     {"NONE", "SIGNATURE", "NAME", "ALL"},
     "partial_blind_route only"},
    {s, "sni[]", "client_cert", "file", "", {}, "partial_blind_route only"},
    {s, "sni[]", "client_key", "file", "", {}, "partial_blind_route only"},
    {s, "sni[]", "client_sni_policy", "one of", "", {"server_name"}, "partial_blind_route only"},
    {s, "sni[]", "origin_sni", "string", "the client's", {}, "partial_blind_route only"},
    {s, "sni[]", "origin_ca_certs", "file or folder", "", {}, "partial_blind_route only"},
    {s, "sni[]", "origin_alpn", "list of protocols", "", {}, "partial_blind_route only"},
    {s, "sni[]", "ssl_ticket_enabled", "0 | 1", "the certificate's", {}, "session tickets"},
    {s, "sni[]", "ssl_ticket_number", "integer", "the certificate's", {}, "TLS 1.3 tickets"},
};

struct Index {
  std::vector<Key> keys{std::begin(kTable), std::end(kTable)};
  // (file, scope) -> the names of its keys, in order (string_views into `keys`).
  std::map<std::pair<std::string_view, std::string_view>, std::vector<std::string_view>> names;
  Index() {
    for (const Key& k : keys) names[{k.file, k.scope}].push_back(k.name);
  }
};

const Index& index() {
  static const Index i;
  return i;
}

}  // namespace

std::string Key::path() const {
  // A route written as a mapping (routes.default, routes.alpn.<protocol>) is "<route>".
  std::string_view shown = scope == "route" ? "<route>" : scope;
  return shown.empty() ? std::string(name) : std::string(shown) + "." + std::string(name);
}

const std::vector<Key>& keys() {
  return index().keys;
}

yaml::KeySet keySet(std::string_view file, std::string_view scope) {
  const auto& names = index().names;
  auto it = names.find({file, scope});
  if (it == names.end()) return {};
  return {.allowed = it->second};
}

const Key* find(std::string_view file, std::string_view scope, std::string_view name) {
  for (const Key& k : index().keys)
    if (k.file == file && k.scope == scope && k.name == name) return &k;
  return nullptr;
}

Result<size_t> oneOf(const std::string& path, const yaml::Field& f, std::string_view file,
                     std::string_view scope, const std::string& label) {
  const Key* key = schema::find(file, scope, f.name);
  std::string got = f.value.IsScalar() ? f.value.Scalar() : "";
  if (key && f.value.IsScalar()) {
    for (size_t i = 0; i < key->allowed.size(); ++i)
      if (key->allowed[i] == got) return i;
  }
  std::string expected;
  for (size_t i = 0; key && i < key->allowed.size(); ++i) {
    if (i > 0) expected += i + 1 == key->allowed.size() ? " or " : ", ";
    expected += key->allowed[i];
  }
  return Error{path, f.valueLine(),
               label + " must be " + expected + ", got " +
                   (f.value.IsScalar() ? "'" + got + "'" : yaml::describe(f.value))};
}

namespace {

// A table cell: '|' would end it.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

std::string markdownReference() {
  std::string out;
  std::string_view file;
  for (const Key& k : keys()) {
    if (k.file != file) {
      file = k.file;
      out += std::string(out.empty() ? "" : "\n") + "`" + std::string(file) +
             "`:\n\n| key | value | default | what |\n|---|---|---|---|\n";
    }
    std::string type(k.type);
    if (!k.allowed.empty()) {
      type.clear();
      for (auto v : k.allowed) type += (type.empty() ? "" : " | ") + std::string(v);
    }
    out += "| `" + k.path() + "` | " + cell(type) + " | " + cell(k.defaultValue) + " | " +
           cell(k.help) + " |\n";
  }
  return out;
}

std::string scdocReference() {
  std::string out;
  for (const Key& k : keys()) {
    out += concat({"*", k.file, "* _", k.path(), "_"});
    if (!k.defaultValue.empty()) out += concat({" (default: ", k.defaultValue, ")"});
    out += "\n\t" + std::string(k.help.empty() ? k.type : k.help) + "\n\n";
  }
  return out;
}

}  // namespace tlsgate::config::schema
