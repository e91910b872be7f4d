// Snapshot: everything a worker reads to serve connections, as plain data (S16, DESIGN
// principle 4). config/ builds it from the files; nothing here reads a file, starts a
// thread or opens a socket. Published as a shared_ptr and pinned by each connection at
// accept, so a connection keeps the snapshot it started with.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/address.h"
#include "net/cidr.h"
#include "proxy/admission_rules.h"
#include "proxy/route_table.h"
#include "proxy/rule_buckets.h"
#include "tls/cert_directory.h"
#include "tls/cert_store.h"
#include "tls/keylog.h"
#include "tls/managed_certs.h"
#include "tls/ossl.h"
#include "tls/server_params.h"
#include "tls/ticket_keys.h"

namespace tlsgate::proxy {

// One listener's options, at its index in the configuration's list.
struct ListenerSettings {
  net::Address address;
  bool transparent = false;        // IP_TRANSPARENT: the local address is the original destination
  bool passthrough = false;        // S9
  bool proxyProtocol = false;      // a PROXY v1/v2 header comes first...
  net::CidrSet proxyProtocolFrom;  // ...from these sources only
  uint32_t maxConnections = 0;     // open at once on this listener; 0 = no limit
};

// TLS towards origins (ssl.client), beyond what the origin contexts hold.
struct OriginSettings {
  std::chrono::seconds handshakeTimeout{30};     // 0 = none
  bool sessionCache = true;                      // resume origin sessions
  std::optional<std::vector<std::string>> alpn;  // absent: what the client negotiated
};

struct Snapshot {
  std::vector<ListenerSettings> listeners;
  tls::ServerParams serverParams;
  // ssl.keylog_file (null when off); before the contexts that point to it, so it goes last.
  std::unique_ptr<tls::KeyLog> keyLog;
  std::unique_ptr<tls::CertStore> certs;
  std::unique_ptr<RouteTable> routes;
  ossl::UniquePtr<SSL_CTX> originContext;  // client side, towards TLS origins (S17)
  OriginSettings origin;
  std::chrono::seconds tunnelIdleTimeout{300};  // tunnel.inactivity_timeout; 0 = none
  std::chrono::seconds relayIdleTimeout{300};   // relay.inactivity_timeout; 0 = none
  std::chrono::seconds inspectTimeout{30};      // inspect.request_timeout; 0 = none
  std::chrono::seconds connectTimeout{10};      // connect_timeout; 0 = none
  // Session ticket keys every server context of `certs` uses (filled by a rotation thread
  // or a Redis sync that the gateway runs).
  std::shared_ptr<tls::TicketKeyStore> ticketKeys;
  AdmissionSettings admission;  // README "Admission control"
  // Certificates obtained by the ACME client and its pending challenges (null without an
  // `acme:` section): served beside `certs` without a reload (tls/managed_certs.h).
  std::shared_ptr<tls::ManagedCertStore> managedCerts;
  // ssl.cert_directory (null without): certificates loaded on demand by name; carried over
  // by a reload that keeps its settings, so its cache survives (tls/cert_directory.h).
  std::shared_ptr<tls::CertDirectory> certDirectory;
  // The rules' token buckets: new with every snapshot (a reload starts them full).
  std::shared_ptr<RuleBuckets> admissionBuckets = std::make_shared<RuleBuckets>();
};

}  // namespace tlsgate::proxy
