// ClientConnection and acme.on_demand (README "On-demand certificates") or ssl.cert_directory
// (README "Certificates on demand from a directory"): a ClientHello for a name no
// certificate in memory has waits, the worker never does. The handshake pauses (ServeChoice
// kWait, as a CLIENT_HELLO hook pauses it); the ACME manager asks the `ask` policy and orders,
// or the directory's loader reads the name's files, on its own thread, and calls back from
// there; the answer is posted to this worker, as a hook's completion or the resolver's answer
// is, and decide() runs again: it finds the certificate, or serves the fallback.
#include "core/log.h"
#include "proxy/client_connection.h"
#include "proxy/worker.h"

namespace tlsgate::proxy {

using stats::Counter;

tls::ServeChoice ClientConnection::awaitCertificate(const AwaitCertificate& await) {
  auto& hs = std::get<Handshaking>(phase_);
  hs.onDemandToken = std::make_shared<ClientConnection*>(this);
  hs.onDemandSource = await.source;
  std::weak_ptr<ClientConnection*> token = hs.onDemandToken;
  std::shared_ptr<hooks::ReactorLink> link = worker_.link();
  const bool acme = await.source == OnDemandSource::kAcme;
  counters().add(acme ? Counter::kAcmeOnDemandRequests : Counter::kSslCertDirectoryMisses);
  TG_DEBUG(log::kSsl, "%s: sni='%s': waiting for %s", route_.peer.toString().c_str(),
           log::escaped(await.name).c_str(),
           acme ? "an on-demand certificate" : "the certificate directory");
  armFor(await.gate->timeout());  // the wait's deadline replaces the handshake's for now
  await.gate->request(await.name, [token, link] {
    link->post([token] {
      auto alive = token.lock();
      if (alive && *alive) (*alive)->onDemandAnswered(/*timedOut=*/false);
    });
  });
  tls::ServeChoice choice;
  choice.kind = tls::ServeChoice::Kind::kWait;
  return choice;
}

void ClientConnection::onDemandAnswered(bool timedOut) {
  auto* hs = std::get_if<Handshaking>(&phase_);
  if (!hs || !hs->onDemandToken) return;
  hs->onDemandToken.reset();
  const bool acme = hs->onDemandSource == OnDemandSource::kAcme;
  if (timedOut)
    counters().add(acme ? Counter::kAcmeOnDemandTimeouts : Counter::kSslCertDirectoryTimeouts);
  (acme ? route_.onDemandAnswered : route_.directoryAnswered) = true;
  armFor(snapshot_->serverParams.handshakeTimeout);  // the rest of the handshake
  hs->wait = tls::HandshakeWait::kNone;
  drive();
}

}  // namespace tlsgate::proxy
