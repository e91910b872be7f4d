// sni.yaml: per-server-name policy, in Apache Traffic Server's format (ATS 9/10).
//
//   sni:
//     - fqdn: '*.example.com'              # quoted: a bare * starts a YAML alias
//       tunnel_route: $1.internal:{inbound_local_port}
//       ip_allow: 10.0.0.0/8, 192.168.1.1-192.168.1.9
//     - fqdn: api.example.com
//       forward_route: 127.0.0.1:8080
//       valid_tls_version_min_in: TLSv1_3
//       verify_client: STRICT
//       verify_client_ca_certs: clients-ca.pem   # relative to this file
//       alpn_routes: {h2: 127.0.0.1:8081, http/1.1: builtin:inspect}
//       send_proxy_protocol: v2
//     - fqdn: '*'                          # every name, and connections without SNI
//     - fqdn: ''                           # connections without SNI only
//
// Keys of an item:
//   fqdn                        required. "name", "*.suffix" (the * is the whole left-most
//                               label), "*" or "". Letters, digits, '-', '_', '.'; compared
//                               without regard to case (stored lowercase).
//   tunnel_route                host:port, relayed without terminating TLS
//   forward_route               host:port, TLS terminated, the plaintext forwarded
//   partial_blind_route         host:port, TLS terminated, re-encrypted to the origin
//                               (at most one of the three)
//   ip_allow                    a sequence of entries or one comma-separated string; the
//                               entries of net::CidrSet. The '@file' form is refused.
//   valid_tls_version_min_in    TLSv1_2 | TLSv1_3 (TLSv1 and TLSv1_1 are refused)
//   valid_tls_version_max_in    idem; min <= max
//   verify_client               NONE | MODERATE | STRICT
//   verify_client_ca_certs      a file, relative to sni.yaml's folder; needs verify_client
//                               MODERATE or STRICT (ATS's {file, dir} form is refused)
//   alpn_routes     (tlsgate)   mapping ALPN protocol id (1..255 bytes) -> destination or
//                               builtin:inspect; not with tunnel_route (TLS is not ended)
//   send_proxy_protocol (tlsgate)  v1 | v2: send a PROXY protocol header upstream
//   ssl_ticket_enabled          0 | 1: session tickets for this name (over the certificate's)
//   ssl_ticket_number           TLS 1.3 tickets sent after a full handshake
// TLS to the origin, overriding ssl.client; only with partial_blind_route (S17-S19):
//   verify_server_policy        ENFORCED | PERMISSIVE | DISABLED
//   verify_server_properties    NONE | SIGNATURE | NAME | ALL
//   client_cert, client_key     files, relative to sni.yaml's folder; both or neither
//   client_sni_policy           server_name only (the client's SNI; tlsgate has no HTTP layer)
//   origin_sni      (tlsgate)   the SNI sent to the origin; '' sends none. Not with
//                               client_sni_policy
//   origin_ca_certs (tlsgate)   the CAs of this item's origin (file or directory)
//   origin_alpn     (tlsgate)   the ALPN offered to this item's origin
//
// Destinations are `host:port`. The host is a name, an IPv4 literal or a bracketed IPv6
// literal, and may hold $1..$9: the labels captured by the fqdn's wildcard ("*.example.com"
// and "*" capture one, $1). The port is 1..65535, {inbound_local_port} (the port the client
// connected to) or {proxy_protocol_port} (the destination port of the client's PROXY
// protocol header). expandDestination() substitutes them per connection.
//
// The other ATS keys (host_sni_policy, http2, tunnel_alpn, ...) are errors saying that
// tlsgate does not support them; any other key is an "unknown key" error. Every error names
// the file and line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/gateway_config.h"
#include "core/result.h"
#include "net/cidr.h"
#include "proxy/destination.h"
#include "proxy/name_index.h"

namespace tlsgate::config {

enum class SniAction { kNone, kTunnel, kForward, kPartialBlind };

// SniRule is one item of sni.yaml.
struct SniRule {
  int line = 0;      // of the item in sni.yaml
  std::string fqdn;  // lowercase, as written: "*.example.com", "a.example.com", "*" or ""
  SniAction action = SniAction::kNone;
  std::string destination;  // the action's host:port pattern; empty for kNone
  std::optional<net::CidrSet> ipAllow;
  std::optional<TlsVersion> minVersion;
  std::optional<TlsVersion> maxVersion;
  std::optional<VerifyClient> verifyClient;
  std::string verifyClientCaCerts;  // resolved against sni.yaml's folder; empty if not given
  // alpn_routes in file order: {protocol id, destination pattern or "builtin:inspect"}.
  std::vector<std::pair<std::string, std::string>> alpnRoutes;
  int sendProxyProtocol = 0;  // 1 or 2; 0 = none
  // TLS to the origin (partial_blind_route), overriding ssl.client for this name:
  std::optional<VerifyServerPolicy> verifyServerPolicy;          // verify_server_policy
  std::optional<VerifyServerProperties> verifyServerProperties;  // verify_server_properties
  std::string clientCert;  // client_cert, resolved against sni.yaml's folder; empty: none
  std::string clientKey;   // client_key, likewise; required with client_cert
  std::optional<std::string> originSni;  // origin_sni (extension): "" = send none
  std::string originCaCerts;  // origin_ca_certs (extension): CAs for this origin, resolved
  std::optional<std::vector<std::string>> originAlpn;  // origin_alpn (extension)
  std::optional<bool> ticketEnabled;                   // ssl_ticket_enabled
  std::optional<int> ticketNumber;                     // ssl_ticket_number
};

// SniMatch is the rule chosen for a server name, and the labels its wildcard captured
// ($1 is captures[0]). `rule` is null when no rule applies.
struct SniMatch {
  const SniRule* rule = nullptr;
  std::vector<std::string> captures;
};

// SniConfig is a parsed sni.yaml, indexed for lookup (proxy/name_index.h says how names
// match). Copies stay valid (the index holds rule positions, not pointers); a rule pointer
// from match() lives as long as the config.
class SniConfig {
 public:
  std::string path;
  std::vector<SniRule> rules;  // file order
  // Items that match() can never choose, because an earlier item wins for every name they
  // match (a repeated fqdn, a name after its wildcard, anything after "*"). Filled by
  // index(); the loader decides whether to log them.
  std::vector<Error> warnings;

  // The first rule in file order that applies to `sni` ("" = the client sent no name).
  SniMatch match(std::string_view sni) const;

  // index builds the lookup tables from `rules` (and the warnings). The parser calls it;
  // code that edits `rules` calls it again.
  void index();

 private:
  proxy::NameIndex index_;
};

// parseSniConfig is a pure parser over the file's text; `path` is used for messages and to
// resolve relative file names. An empty file and `sni: []` give no rules.
Result<SniConfig> parseSniConfig(std::string_view text, const std::string& path);
// loadSniConfig reads and parses `path`; a missing file is an error naming it.
Result<SniConfig> loadSniConfig(const std::string& path);

// Destination patterns ($1, {inbound_local_port}, ...) are expanded per connection by the
// routing layer.
using proxy::DestinationContext;
using proxy::expandDestination;

}  // namespace tlsgate::config
