// The route of a connection, decided in one place: decide() is a pure function of what is
// known about the connection so far (RouteInputs) and of the snapshot. Every rule that
// sends a connection somewhere lives in it: the PROXY allow-list, S5, S9, the hooks' verdicts
// (S7, S10: only hooks change the decision), sni.yaml (ip_allow, tunnel_route, per-name
// settings) and S11 (the certificate, and its action=tunnel on transparent listeners).
// Once the handshake has negotiated a protocol, endpointFor() picks the endpoint (S14).
//
// The connection calls decide() whenever it learns something: at accept, with the PROXY
// header, with the first byte, at the ClientHello, when a hook ends the handshake. A new
// input (a fingerprint, an admission verdict, an ACME challenge, an on-demand certificate
// obtained or refused, a directory's load done) is one more field of
// RouteInputs and one more rule in decide(). Admission control comes first: its verdict is
// taken before anything costly (admission.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "net/address.h"
#include "proxy/admission.h"
#include "proxy/connection_error.h"
#include "proxy/route_table.h"
#include "proxy/snapshot.h"
#include "stats/counters.h"
#include "tls/client_hello.h"
#include "tls/on_demand_gate.h"

namespace tlsgate::proxy {

// What a hook asked when it ended the handshake early (S7, S10).
struct HookRequest {
  enum class Kind : uint8_t { kNone, kTunnel, kTerminate };
  Kind kind = Kind::kNone;
  std::string destination;  // kTunnel: host:port, "" = the original destination
};

struct RouteInputs {
  const ListenerSettings* listener = nullptr;
  net::Address socketPeer;         // who connected (before any PROXY header)
  net::Address peer;               // the client: after a PROXY header, the one it names
  net::Address local;              // the destination: after TPROXY or a PROXY header, the original
  uint16_t listenerPort = 0;       // {inbound_local_port}
  uint16_t proxyProtocolPort = 0;  // {proxy_protocol_port}; 0 without a PROXY header
  bool proxyHeaderRead = false;
  std::optional<uint8_t> firstByte;            // S9, on pass-through listeners
  std::optional<tls::ClientHelloFacts> hello;  // once the ClientHello was read
  HookRequest hook;
  AdmissionVerdict admission;  // admission.h: at accept (or the PROXY header), at the ClientHello
  // acme.on_demand: the handshake's wait for a certificate is over (issued, refused, timed out).
  bool onDemandAnswered = false;
  // ssl.cert_directory: the handshake's wait for the directory's load is over.
  bool directoryAnswered = false;
};

// Not decidable yet: read this first.
struct NeedMore {
  enum class What : uint8_t { kProxyHeader, kFirstByte, kClientHello };
  What what;
};

// TLS ends here, with this certificate entry and the sni.yaml item that matched (if any).
struct Terminate {
  const tls::CertEntry* entry = nullptr;
  const NameRule* rule = nullptr;
  std::vector<std::string> captures;  // of the item's fqdn: $1...
  bool sniMissed = false;             // a name was sent and no certificate has it
  // A certificate of the ACME client or of the directory: kept alive while the handshake
  // uses it.
  std::shared_ptr<const tls::CertEntry> managed;
  bool acmeChallenge = false;  // an ACME tls-alpn-01 validation: closed after the handshake
  // What the directory answered at once (a hit, an unknown name): counted when the
  // handshake takes this decision.
  std::optional<stats::Counter> directoryOutcome = std::nullopt;
};

// A blind tunnel; what was read from the client so far is replayed first.
struct Tunnel {
  std::string destination;  // host:port; "" = the original destination
  int sendProxyProtocol = 0;
  std::optional<stats::Counter> cause;  // counted when decided (a hook's: by the handshake)
};

struct Refuse {
  ConnectionError error;
  // At the ClientHello: the alert sent and the handshake's failure class (counted there).
  int alert = 0;
  tls::HandshakeError handshakeError = tls::HandshakeError::kNone;
  std::optional<stats::Counter> counter;  // before the handshake: counted when decided
  std::string reason;
  bool warn = false;  // a configuration problem: a warning, not a debug line
};

// Who a handshake waits on for a certificate: acme.on_demand, or ssl.cert_directory.
enum class OnDemandSource : uint8_t { kAcme, kDirectory };

// No certificate has the name yet; the handshake waits (never the worker) while the ACME
// client asks the `ask` policy and orders one, or the directory's loader reads its files,
// then decides again.
struct AwaitCertificate {
  std::string name;
  tls::OnDemandGate* gate = nullptr;
  OnDemandSource source = OnDemandSource::kAcme;
};

using RouteDecision = std::variant<NeedMore, Terminate, Tunnel, Refuse, AwaitCertificate>;

RouteDecision decide(const RouteInputs& in, const Snapshot& snapshot);

// Where a terminated connection goes after the handshake.
struct EndpointDecision {
  EndpointKind kind = EndpointKind::kInspect;
  std::string destination;              // "host:port" after expansion (relay, origin)
  std::optional<net::Address> address;  // known already (else: resolve `destination`)
  int sendProxyProtocol = 0;
  // kOriginTls: from the endpoint.
  std::optional<std::string> originSni;
  SSL_CTX* originContext = nullptr;
  std::optional<std::vector<std::string>> originAlpn;
  tls::OriginVerification verification;
  std::string refusal;  // non-empty: no endpoint (S14) or a plugin refused; the reason
};

// S14: the endpoint for `alpn`, the protocol the handshake negotiated ("" = none).
EndpointDecision endpointFor(const Terminate& t, std::string_view alpn, const RouteInputs& in,
                             const Snapshot& snapshot);

// An endpoint's destination for this connection ($1, {inbound_local_port}...).
EndpointDecision endpointDecision(const Endpoint& e, const std::vector<std::string>& captures,
                                  const RouteInputs& in);

}  // namespace tlsgate::proxy
