#include "proxy/route_decision.h"

#include "hooks/hook_registry.h"
#include "proxy/destination.h"

namespace tlsgate::proxy {

using stats::Counter;

namespace {

constexpr uint8_t kTlsHandshakeRecord = 0x16;

// A tunnel to `destination`; the original destination ("") only where there is one.
RouteDecision tunnelTo(std::string destination, int sendProxyProtocol, std::optional<Counter> cause,
                       const RouteInputs& in) {
  // On an ordinary listener the original destination is tlsgate itself: a tunnel there
  // would loop. TPROXY or a PROXY header tell where the client was going.
  if (destination.empty() && !in.listener->transparent && in.proxyProtocolPort == 0)
    return Refuse{ConnectionError::kNoTunnelDestination,
                  0,
                  tls::HandshakeError::kNone,
                  {},
                  "tunnel for " + in.peer.toString() +
                      ": the original destination is this "
                      "listener (" +
                      in.local.toString() +
                      "); a transparent listener or a PROXY "
                      "header is needed to tunnel there",
                  true};
  return Tunnel{std::move(destination), sendProxyProtocol, cause};
}

// RFC 8737: a ClientHello that offers exactly acme-tls/1, for a name with a pending
// tls-alpn-01 challenge, is the CA's validation: it gets the challenge certificate. Any
// other client, whatever it offers, goes on as usual and never sees that certificate.
std::optional<Terminate> acmeValidation(const RouteInputs& in, const Snapshot& s) {
  if (!s.managedCerts || in.hello->alpn.size() != 1 + tls::kAcmeTlsAlpn.size()) return {};
  if (std::string_view(in.hello->alpn).substr(1) != tls::kAcmeTlsAlpn) return {};
  auto challenge = s.managedCerts->challenge(in.hello->sni);
  if (!challenge) return {};
  Terminate t;
  t.entry = challenge.get();
  t.managed = std::move(challenge);
  t.acmeChallenge = true;
  return t;
}

// S11 with the ACME client's certificates: an exact ssl_multicert.config name first (the
// operator's own file wins), then an ACME certificate (exact, then wildcard), then the
// multicert wildcard. nullptr: no certificate has the name.
const tls::CertEntry* certificateByName(const std::string& sni, const Snapshot& s,
                                        std::shared_ptr<const tls::CertEntry>& managed) {
  if (!s.managedCerts) return s.certs->findByName(sni);  // no acme: the one lookup of S11
  if (const tls::CertEntry* exact = s.certs->findExact(sni)) return exact;
  if ((managed = s.managedCerts->find(sni))) return managed.get();
  return s.certs->findWildcard(sni);
}

// acme.on_demand, for a name no certificate has: wait while the ACME client obtains one,
// unless the name cannot have one or was refused within the backoff; after the wait (or
// without one) the fallback: an alert, or nothing here (the default certificate).
std::optional<RouteDecision> onDemandFor(const std::string& sni, const RouteInputs& in,
                                         const Snapshot& s) {
  tls::OnDemandGate* gate = s.managedCerts ? s.managedCerts->onDemand() : nullptr;
  if (!gate) return {};
  if (!in.onDemandAnswered && tls::acmeNameProblem(sni).empty() && !gate->refused(sni))
    return AwaitCertificate{sni, gate};
  if (!gate->alertOnRefusal()) return {};
  return Refuse{ConnectionError::kNoCertificate,
                SSL_AD_UNRECOGNIZED_NAME,
                tls::HandshakeError::kNoCertificate,
                {},
                "no certificate for sni='" + sni + "': acme.on_demand did not obtain one"};
}

// ssl.cert_directory, for a name nothing in memory has: a certificate it holds is served at
// once, a name it knows to have none (or that is no host name) falls through to the
// destination address and the default at once, and any other name waits for the loader —
// once: after the wait, what the loader found (or nothing) is final.
std::optional<AwaitCertificate> fromDirectory(const std::string& sni, const RouteInputs& in,
                                              const Snapshot& s,
                                              std::shared_ptr<const tls::CertEntry>& found,
                                              std::optional<Counter>& outcome) {
  tls::CertDirectory* directory = s.certDirectory.get();
  if (!directory) return {};
  tls::CertDirectory::Lookup lookup = directory->lookup(sni);
  found = std::move(lookup.entry);
  if (in.directoryAnswered) return {};  // the wait was counted (a miss, a timeout)
  switch (lookup.found) {
    case tls::CertDirectory::Found::kEntry:
      outcome = Counter::kSslCertDirectoryHits;
      return {};
    case tls::CertDirectory::Found::kUnknown:
      outcome = Counter::kSslCertDirectoryUnknown;
      return {};
    case tls::CertDirectory::Found::kQueueFull:
      outcome = Counter::kSslCertDirectoryQueueFull;
      return {};
    case tls::CertDirectory::Found::kNotLoaded:
      break;
  }
  return AwaitCertificate{sni, directory, OnDemandSource::kDirectory};
}

// sni.yaml and S11, once the ClientHello is known.
RouteDecision decideAtClientHello(const RouteInputs& in, const Snapshot& s) {
  if (auto validation = acmeValidation(in, s)) return std::move(*validation);
  const std::string& sni = in.hello->sni;
  RuleMatch m = s.routes->match(sni);
  if (const NameRule* rule = m.rule) {
    if (rule->ipAllow && !rule->ipAllow->contains(in.peer))
      return Refuse{ConnectionError::kDenied,
                    SSL_AD_ACCESS_DENIED,
                    tls::HandshakeError::kDenied,
                    {},
                    "refused by sni.yaml line " + std::to_string(rule->line) + " ip_allow"};
    if (rule->action && rule->action->kind == EndpointKind::kTunnel) {
      EndpointDecision d = endpointDecision(*rule->action, m.captures, in);
      if (!d.refusal.empty())
        return Refuse{
            ConnectionError::kDenied,
            SSL_AD_INTERNAL_ERROR,
            tls::HandshakeError::kDenied,
            {},
            "tunnel_route of sni.yaml line " + std::to_string(rule->line) + ": " + d.refusal,
            true};
      return tunnelTo(std::move(d.destination), d.sendProxyProtocol, Counter::kSniTunnels, in);
    }
  }
  // S11: the name (exact, then wildcard), else the destination address, else the default.
  std::shared_ptr<const tls::CertEntry> managed;
  const tls::CertEntry* entry = certificateByName(sni, s, managed);
  // ssl.cert_directory after every name in memory, before the ACME client orders one.
  std::optional<Counter> directoryOutcome;
  if (!entry && !sni.empty()) {
    if (auto wait = fromDirectory(sni, in, s, managed, directoryOutcome)) return std::move(*wait);
    entry = managed.get();
  }
  const bool sniMissed = !entry && !sni.empty();
  if (sniMissed)
    if (auto onDemand = onDemandFor(sni, in, s)) return std::move(*onDemand);
  if (!entry) entry = s.certs->select({}, in.local);
  if (!entry)
    return Refuse{ConnectionError::kNoCertificate,
                  SSL_AD_INTERNAL_ERROR,
                  tls::HandshakeError::kNoCertificate,
                  {},
                  "no certificate for sni='" + sni + "' local=" + in.local.toString() +
                      " and no default (dest_ip=*)"};
  // S11: on a transparent listener, an entry with action=tunnel sends the connection on to
  // where the client was going; elsewhere the entry is served as usual.
  if (entry->tunnel && in.listener->transparent)
    return tunnelTo("", 0, Counter::kDestIpTunnels, in);
  Terminate t{entry, m.rule, std::move(m.captures), sniMissed, std::move(managed)};
  t.directoryOutcome = directoryOutcome;
  return t;
}

}  // namespace

RouteDecision decide(const RouteInputs& in, const Snapshot& s) {
  // Admission control: refused before the costly part (counted when it was decided).
  if (in.admission.refused) {
    const bool alert = in.admission.alert && in.hello;
    return Refuse{ConnectionError::kAdmissionRefused,
                  alert ? SSL_AD_ACCESS_DENIED : 0,
                  alert ? tls::HandshakeError::kAdmissionDenied : tls::HandshakeError::kNone,
                  {},
                  in.admission.reason};
  }
  const ListenerSettings& listener = *in.listener;
  if (listener.proxyProtocol) {
    // Only the proxies in front of us may say who the client is.
    if (!listener.proxyProtocolFrom.contains(in.socketPeer))
      return Refuse{ConnectionError::kProxyRefused, 0, tls::HandshakeError::kNone,
                    Counter::kProxyProtocolRefused,
                    "PROXY header expected from a source not in proxy_protocol_from"};
    if (!in.proxyHeaderRead) return NeedMore{NeedMore::What::kProxyHeader};
  }
  // S5: the destination's certificate entry says tunnel: on to where the client was going,
  // before a byte is read.
  if (listener.transparent) {
    const tls::CertEntry* entry = s.certs->findByAddress(in.local);
    if (entry && entry->tunnel) return tunnelTo("", 0, Counter::kDestIpTunnels, in);
  }
  // S9: not TLS: the bytes go, untouched, where the client was going.
  if (listener.passthrough) {
    if (!in.firstByte) return NeedMore{NeedMore::What::kFirstByte};
    if (*in.firstByte != kTlsHandshakeRecord)
      return tunnelTo("", 0, Counter::kPassthroughTunnels, in);
  }
  // S7, S10: a hook that ended the handshake decides (counted by the handshake).
  if (in.hook.kind == HookRequest::Kind::kTunnel) return tunnelTo(in.hook.destination, 0, {}, in);
  if (in.hook.kind == HookRequest::Kind::kTerminate)
    return Refuse{ConnectionError::kHookTerminated,
                  0,
                  tls::HandshakeError::kNone,
                  {},
                  "terminated by a hook"};
  if (!in.hello) return NeedMore{NeedMore::What::kClientHello};
  return decideAtClientHello(in, s);
}

EndpointDecision endpointDecision(const Endpoint& e, const std::vector<std::string>& captures,
                                  const RouteInputs& in) {
  EndpointDecision d;
  d.kind = e.kind;
  d.sendProxyProtocol = e.sendProxyProtocol;
  d.address = e.address;
  d.originSni = e.originSni;
  d.originContext = e.originContext;
  d.originAlpn = e.originAlpn;
  d.verification = e.verification;
  if (e.kind == EndpointKind::kInspect) return d;
  if (e.address) {
    d.destination = e.destination;
    return d;
  }
  DestinationContext ctx{&captures, in.listenerPort, in.proxyProtocolPort};
  auto expanded = expandDestination(e.destination, ctx);
  if (!expanded) {
    d.refusal = expanded.error().message;
    return d;
  }
  d.destination = std::move(*expanded);
  if (auto literal = net::parseAddress(d.destination, /*requirePort=*/true)) d.address = literal;
  return d;
}

// S14: the route's endpoint for the negotiated protocol, else a plugin's, else the catch-all.
EndpointDecision endpointFor(const Terminate& t, std::string_view alpn, const RouteInputs& in,
                             const Snapshot& s) {
  if (!alpn.empty()) {
    if (const Endpoint* e = s.routes->forProtocol(t.rule, alpn))
      return endpointDecision(*e, t.captures, in);
    if (const hooks::EndpointEntry* plugin = hooks::HookRegistry::instance().endpoint(alpn)) {
      std::string protocol(alpn);
      const char* sni = in.hello && !in.hello->sni.empty() ? in.hello->sni.c_str() : nullptr;
      tlsgate_endpoint_info info{protocol.c_str(), sni, in.peer.sockaddrPtr(),
                                 in.local.sockaddrPtr()};
      const char* target = plugin->fn(&info, plugin->data);
      EndpointDecision d;
      if (!target) {
        d.refusal = "the plugin endpoint of '" + protocol + "' refused the connection";
        return d;
      }
      if (std::string_view(target) == "builtin:inspect") return d;
      d.kind = EndpointKind::kRelay;
      d.destination = target;
      d.address = net::parseAddress(d.destination, /*requirePort=*/true);
      return d;
    }
  }
  if (const Endpoint* e = s.routes->catchAll(t.rule)) return endpointDecision(*e, t.captures, in);
  EndpointDecision d;
  // S14: a negotiated protocol nobody serves is an error, and so is no ALPN without a
  // default endpoint.
  d.refusal = alpn.empty() ? "no default endpoint (routes.default) and no ALPN"
                           : "no endpoint registered for '" + std::string(alpn) + "'";
  return d;
}

}  // namespace tlsgate::proxy
