// ClientConnection and admission control (admission.h): the verdicts are inputs of the
// route, which refuses; this keeps the worker's count of handshakes in progress with them.
#include "core/log.h"
#include "proxy/client_connection.h"
#include "proxy/worker.h"
#include "tls/ticket_offer.h"

namespace tlsgate::proxy {

void ClientConnection::admitSource() {
  stats::ListenerStats* ls = listenerStats_;
  SourceContext ctx{snapshot_->admission, *snapshot_->admissionBuckets, route_.peer,
                    listener().address,   listener().maxConnections,    ls ? &ls->open : nullptr,
                    worker_.shedder(),    worker_.reactor().now()};
  route_.admission = admission_.admitSource(ctx);
  if (route_.admission.counter) counters().add(*route_.admission.counter);
  if (admission_.handshaking()) {
    handshakeAdmitted_ = true;
    worker_.handshakeBegins();
  }
}

void ClientConnection::admitClientHello() {
  const tls::ClientHelloFacts& hello = *route_.hello;
  // A ticket of ours means a resumption: a fraction of a full handshake's cost.
  const bool resumption = !hello.ticket.empty() && snapshot_->ticketKeys &&
                          tls::ticketSealedBy(snapshot_->ticketKeys->current(), hello.ticket);
  HelloContext ctx{snapshot_->admission,
                   *snapshot_->admissionBuckets,
                   route_.peer,
                   listener().address,
                   hello,
                   resumption,
                   worker_.shedder(),
                   worker_.reactor().now()};
  route_.admission = admission_.admitClientHello(ctx);
  if (route_.admission.counter) counters().add(*route_.admission.counter);
}

void ClientConnection::endHandshakeAdmission() {
  admission_.handshakeOver();
  if (!handshakeAdmitted_) return;
  handshakeAdmitted_ = false;
  worker_.handshakeEnds();
}

}  // namespace tlsgate::proxy
