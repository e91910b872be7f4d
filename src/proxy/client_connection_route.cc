// ClientConnection and its route: decide() with what is known, then act on the decision;
// the handshake's owner side (the ClientHello's choice) and what follows the handshake.
#include "core/log.h"
#include "hooks/hook_registry.h"
#include "proxy/client_connection.h"
#include "proxy/worker.h"
#include "tls/tls_io.h"

namespace tlsgate::proxy {

using stats::Counter;

void ClientConnection::proceed() {
  RouteDecision decision = decide(route_, *snapshot_);
  std::visit([this](auto& d) { act(d); }, decision);
}

void ClientConnection::act(const NeedMore& need) {
  switch (need.what) {
    case NeedMore::What::kProxyHeader:
      phase_.emplace<AwaitingProxyHeader>();
      drive();
      break;
    case NeedMore::What::kFirstByte:
      phase_.emplace<AwaitingFirstByte>();
      drive();
      break;
    case NeedMore::What::kClientHello:
      startHandshake();
      break;
  }
}

void ClientConnection::act(const Refuse& refuse) {
  if (refuse.counter) counters().add(*refuse.counter);
  if (refuse.warn)
    log::warning("%s", log::escaped(refuse.reason).c_str());
  else
    TG_DEBUG(log::kNet, "%s: %s", route_.peer.toString().c_str(),
             log::escaped(refuse.reason).c_str());
  closeWith(refuse.error, refuse.reason.c_str());
}

void ClientConnection::act(const Terminate&) {
  // Only the ClientHello brings a Terminate, and the handshake takes it (onClientHello).
  closeWith(ConnectionError::kHandshakeFailed, "terminate decided outside the handshake");
}

void ClientConnection::act(const AwaitCertificate&) {
  // Only the ClientHello brings it, and the handshake waits on it (onClientHello).
  closeWith(ConnectionError::kHandshakeFailed, "on-demand wait decided outside the handshake");
}

void ClientConnection::act(Tunnel& tunnel) {
  if (tunnel.cause) counters().add(*tunnel.cause);
  worker_.reactor().cancel(timer_);  // the handshake is over
  endHandshakeAdmission();
  auto upstream = std::make_unique<Upstream>();
  EndpointDecision& target = upstream->target;
  target.kind = EndpointKind::kTunnel;
  target.sendProxyProtocol = tunnel.sendProxyProtocol;
  if (tunnel.destination.empty()) {  // the original destination: TPROXY's or a PROXY header's
    target.address = route_.local;
    target.destination = route_.local.toString();
  } else {
    target.destination = std::move(tunnel.destination);
    target.address = net::parseAddress(target.destination, /*requirePort=*/true);
  }
  // S10: a tunnel decided after bytes were read replays them, so the destination sees the
  // ClientHello exactly as the client sent it.
  if (io_.handshake) upstream->replay = std::string(io_.handshake->received());
  io_.handshake.reset();
  record_.route = EndpointKind::kTunnel;
  TG_DEBUG(log::kNet, "tunnel %s -> %s, replaying %zu bytes", route_.peer.toString().c_str(),
           target.destination.c_str(), upstream->replay.size());
  connectTo(std::move(upstream));
}

void ClientConnection::startHandshake() {
  if (!hooks::HookRegistry::instance().empty())
    hooks_ = std::make_unique<hooks::HookRunner>(worker_.link(), *this, *snapshot_->certs,
                                                 route_.peer, route_.local);
  phase_.emplace<Handshaking>(*snapshot_->certs, snapshot_->serverParams, tls::newSocketBio(&io_),
                              route_.local, route_.peer, counters(), *this, hooks_.get());
  drive();
}

namespace {

tls::NameSettings nameSettings(const NameRule* rule) {
  tls::NameSettings s;
  if (!rule) return s;
  s.minVersion = rule->minVersion;
  s.maxVersion = rule->maxVersion;
  s.ticketEnabled = rule->ticketEnabled;
  s.ticketNumber = rule->ticketNumber;
  s.verify = rule->verify.get();
  return s;
}

}  // namespace

// The handshake's question at the ClientHello: the route decides what it serves.
tls::ServeChoice ClientConnection::onClientHello(tls::ClientHelloFacts hello) {
  route_.hello = std::move(hello);
  admitClientHello();
  return serveChoice();
}

// After an on-demand wait: the same question, with what the wait brought.
tls::ServeChoice ClientConnection::onClientHelloAgain() {
  return serveChoice();
}

tls::ServeChoice ClientConnection::serveChoice() {
  RouteDecision decision = decide(route_, *snapshot_);
  if (const auto* await = std::get_if<AwaitCertificate>(&decision)) return awaitCertificate(*await);
  tls::ServeChoice choice;
  if (auto* t = std::get_if<Terminate>(&decision)) {
    if (t->rule)
      TG_DEBUG(log::kSsl, "%s: sni='%s' -> sni.yaml line %d", route_.peer.toString().c_str(),
               log::escaped(route_.hello->sni).c_str(), t->rule->line);
    choice.entry = t->entry;
    choice.settings = nameSettings(t->rule);
    choice.sniMissed = t->sniMissed;
    choice.acmeTlsAlpn = t->acmeChallenge;
    if (t->directoryOutcome) counters().add(*t->directoryOutcome);
    std::get<Handshaking>(phase_).route = std::move(*t);
    return choice;
  }
  const auto* refuse = std::get_if<Refuse>(&decision);
  if (!refuse || refuse->alert == 0) {  // a tunnel, or a close: the handshake stops here
    choice.kind = tls::ServeChoice::Kind::kStop;
    return choice;
  }
  if (refuse->warn)
    log::warning("%s: %s", route_.peer.toString().c_str(), log::escaped(refuse->reason).c_str());
  choice.kind = tls::ServeChoice::Kind::kRefuse;
  choice.alert = refuse->alert;
  choice.error = refuse->handshakeError;
  choice.reason = refuse->reason;
  return choice;
}

void ClientConnection::afterHandshake(Handshaking& hs) {
  switch (hs.driver.state()) {
    case tls::HandshakeState::kDone:
      onHandshakeDone(hs);
      return;
    case tls::HandshakeState::kFailed:
      closeWith(fromHandshakeError(hs.driver.error()), tls::toString(hs.driver.error()));
      return;
    case tls::HandshakeState::kStopped:
      break;
    default:
      return;
  }
  // S7, S10: a hook's verdict is one more input; the owner's own stop decides the same again.
  if (hs.driver.stopCause() == tls::StopCause::kHookTunnel)
    route_.hook = {HookRequest::Kind::kTunnel, hooks_->tunnelDestination()};
  else if (hs.driver.stopCause() == tls::StopCause::kHookTerminate)
    route_.hook = {HookRequest::Kind::kTerminate, {}};
  proceed();
}

void ClientConnection::onHandshakeDone(Handshaking& hs) {
  worker_.reactor().cancel(timer_);  // S14: stop the handshake clock
  endHandshakeAdmission();
  auto handshakeTime = hs.driver.elapsed();
  ssl_ = hs.driver.takeSsl();
  io_.endHandshake();
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &p, &len);
  std::string_view alpn(reinterpret_cast<const char*>(p), len);
  if (hs.route->acmeChallenge) {
    // RFC 8737 section 3: the CA only looks at the certificate; the connection ends here.
    counters().add(Counter::kAcmeTlsAlpnValidations);
    TG_DEBUG(log::kSsl, "%s: answered an ACME tls-alpn-01 validation for '%s'",
             route_.peer.toString().c_str(), log::escaped(route_.hello->sni).c_str());
    record_.outcome = stats::Outcome::kTerminated;
    tls::tlsShutdown(ssl_.get());
    close("acme-tls/1 validation answered");
    return;
  }
  // S14: the endpoint registered for the negotiated protocol.
  EndpointDecision target = endpointFor(*hs.route, alpn, route_, *snapshot_);
  if (!target.refusal.empty()) {
    counters().add(Counter::kNoEndpoint);
    TG_DEBUG(log::kSslError, "%s: %s", route_.peer.toString().c_str(),
             log::escaped(target.refusal).c_str());
    failUpstream(ConnectionError::kNoEndpoint, "no endpoint");
    return;
  }
  record_.route = target.kind;
  if (target.kind == EndpointKind::kInspect) {
    record_.outcome = stats::Outcome::kTerminated;
    std::string body = inspectBody(handshakeTime);
    phase_.emplace<Inspecting>(ssl_.get(), io_, std::move(body), counters());
    armFor(snapshot_->inspectTimeout);
    drive();
    return;
  }
  // Only a connection that goes on somewhere gets an upstream (inspect needs none).
  auto upstream = std::make_unique<Upstream>();
  upstream->target = std::move(target);
  connectTo(std::move(upstream));
}

void ClientConnection::failUpstream(ConnectionError error, const char* why) {
  if (ssl_) tls::tlsShutdown(ssl_.get());  // a clean TLS close for the client
  closeWith(error, why);
}

void ClientConnection::closeWith(ConnectionError error, const char* why) {
  if (record_.error == ConnectionError::kNone) record_.error = error;
  close(why);
}

}  // namespace tlsgate::proxy
