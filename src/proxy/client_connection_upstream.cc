// ClientConnection towards its upstream: resolve, connect, the PROXY header, the TLS
// handshake with an origin (S17-S19), then the relay or the tunnel.
#include <sys/epoll.h>

#include <cstring>

#include "core/log.h"
#include "net/proxy_protocol.h"
#include "net/resolver.h"
#include "net/socket.h"
#include "proxy/client_connection.h"
#include "proxy/worker.h"
#include "tls/wire_trace.h"

namespace tlsgate::proxy {

using stats::Counter;

namespace {
constexpr uint32_t kAllEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
}  // namespace

ClientConnection::OriginHandshaking::OriginHandshaking(std::unique_ptr<Upstream> up,
                                                       const tls::ClientHandshake::Params& params,
                                                       stats::CounterBlock& counters,
                                                       tls::HandshakeHooks* hooks)
    : upstream(std::move(up)), driver(params, tls::newSocketBio(&upstream->io), counters, hooks) {}

ClientConnection::Relaying::Relaying(SSL* ssl, tls::SocketIo& io, std::unique_ptr<Upstream> up,
                                     BufferPool& pool, stats::CounterBlock& counters)
    : upstream(std::move(up)),
      client(ssl, io),
      upstreamStream(upstream->ssl ? std::unique_ptr<Stream>(std::make_unique<TlsStream>(
                                         upstream->ssl.get(), upstream->io))
                                   : std::make_unique<PlainStream>(upstream->io)),
      relay(client, *upstreamStream, pool, counters) {}

ClientConnection::Tunneling::Tunneling(tls::SocketIo& client, std::unique_ptr<Upstream> up,
                                       std::string replay, stats::CounterBlock& counters)
    : upstream(std::move(up)),
      tunnel(client, std::move(upstream->fd), std::move(replay), counters) {}

void ClientConnection::connectTo(std::unique_ptr<Upstream> upstream) {
  armFor(snapshot_->connectTimeout);  // resolving and connecting, together
  if (upstream->target.address) {
    startConnect(std::move(upstream));
    return;
  }
  // A host name known only now: resolved off the loop, answered on this worker.
  std::string name = upstream->target.destination;
  auto& r = phase_.emplace<Resolving>(Resolving{std::move(upstream), nullptr});
  r.token = std::make_shared<ClientConnection*>(this);
  std::weak_ptr<ClientConnection*> token = r.token;
  std::shared_ptr<hooks::ReactorLink> link = worker_.link();
  net::Resolver::instance().resolve(name, [token, link](Result<net::Address> address) {
    link->post([token, address = std::move(address)]() mutable {
      auto alive = token.lock();
      if (alive && *alive) (*alive)->onResolved(std::move(address));
    });
  });
}

void ClientConnection::onResolved(Result<net::Address> address) {
  auto* r = std::get_if<Resolving>(&phase_);
  if (!r) return;
  std::unique_ptr<Upstream> upstream = std::move(r->upstream);
  if (!address) {
    counters().add(Counter::kResolveFailure);
    log::warning("%s: cannot resolve '%s': %s", route_.peer.toString().c_str(),
                 log::escaped(upstream->target.destination).c_str(),
                 log::escaped(address.error().message).c_str());
    failUpstream(ConnectionError::kResolveFailed, "resolve failed");
    return;
  }
  upstream->target.address = *address;
  startConnect(std::move(upstream));
}

void ClientConnection::startConnect(std::unique_ptr<Upstream> upstream) {
  const net::Address& address = *upstream->target.address;
  record_.upstream = address.toString();
  auto fd = net::connectNonBlocking(address);
  if (!fd) {
    counters().add(Counter::kUpstreamConnectFailure);
    log::warning("upstream %s: %s", address.toString().c_str(), fd.error().message.c_str());
    failUpstream(ConnectionError::kConnectFailed, "upstream connect failed");
    return;
  }
  upstream->fd = std::move(fd.value());
  upstream->io.fd = upstream->fd.get();
  int raw = upstream->fd.get();
  phase_.emplace<Connecting>(Connecting{std::move(upstream)});
  worker_.reactor().add(raw, kAllEvents, &upstreamEvents_);
}

void ClientConnection::onUpstreamEvents(uint32_t events) {
  if (std::holds_alternative<Connecting>(phase_)) {
    finishConnect(events);
    return;
  }
  if (auto* t = std::get_if<Tunneling>(&phase_)) {
    t->tunnel.destinationReady(events);
  } else if (auto* oh = std::get_if<OriginHandshaking>(&phase_)) {
    oh->upstream->io.update(events);
    if (oh->wait == tls::HandshakeWait::kRead && !oh->upstream->io.mayRead()) return;
    if (oh->wait == tls::HandshakeWait::kWrite && !oh->upstream->io.writable) return;
  } else if (auto* r = std::get_if<Relaying>(&phase_)) {
    r->upstream->io.update(events);
  } else if (auto* os = std::get_if<OutboundStarting>(&phase_)) {
    os->upstream->io.update(events);
    return;  // the OUTBOUND_START hooks hold it
  }
  drive();
}

void ClientConnection::finishConnect(uint32_t events) {
  std::unique_ptr<Upstream> upstream = std::move(std::get<Connecting>(phase_).upstream);
  upstream->io.update(events);
  if (int err = net::connectResult(upstream->fd.get()); err != 0) {
    counters().add(Counter::kUpstreamConnectFailure);
    TG_DEBUG(log::kRelay, "upstream %s for %s: %s",
             log::escaped(upstream->target.destination).c_str(), route_.peer.toString().c_str(),
             std::strerror(err));
    failUpstream(ConnectionError::kConnectFailed, "upstream connect failed");
    return;
  }
  std::string proxyHeader = outboundProxyHeader(*upstream);
  if (upstream->target.kind == EndpointKind::kTunnel) {
    std::string replay = proxyHeader + std::move(upstream->replay);
    auto& t = phase_.emplace<Tunneling>(io_, std::move(upstream), std::move(replay), counters());
    record_.outcome = stats::Outcome::kTunnel;
    t.tunnel.destinationReady(events);
    armFor(snapshot_->tunnelIdleTimeout);
    drive();
    return;
  }
  if (!proxyHeader.empty() && !net::sendWhole(upstream->fd.get(), proxyHeader)) {
    failUpstream(ConnectionError::kConnectFailed, "cannot send the PROXY header");
    return;
  }
  if (upstream->target.kind == EndpointKind::kOriginTls) {
    startOriginHandshake(std::move(upstream));
    return;
  }
  startRelay(std::move(upstream));
}

std::string ClientConnection::outboundProxyHeader(const Upstream& upstream) const {
  const net::Address& peer = route_.peer;
  const net::Address& local = route_.local;
  if (upstream.target.sendProxyProtocol == 1) return net::buildProxyV1(peer, local);
  if (upstream.target.sendProxyProtocol != 2) return {};
  // As HAProxy's send-proxy-v2 with ssl, authority and alpn: what the client negotiated.
  net::ProxyV2Tlvs tlvs;
  if (route_.hello) tlvs.authority = route_.hello->sni;
  if (ssl_) {
    const unsigned char* alpn = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &alpn, &len);
    tlvs.alpn.assign(reinterpret_cast<const char*>(alpn), len);
    tlvs.sslVersion = SSL_get_version(ssl_.get());
    tlvs.sslCipher = SSL_get_cipher_name(ssl_.get());
    X509* clientCert = SSL_get0_peer_certificate(ssl_.get());
    tlvs.clientCertVerified = clientCert && SSL_get_verify_result(ssl_.get()) == X509_V_OK;
  }
  return net::buildProxyV2(peer, local, tlvs);
}

void ClientConnection::startOriginHandshake(std::unique_ptr<Upstream> upstream) {
  // ssl.client.handshake_timeout_in: from here, so that it bounds the OUTBOUND_START hooks.
  armFor(snapshot_->origin.handshakeTimeout);
  phase_.emplace<OutboundStarting>(OutboundStarting{std::move(upstream)});
  drive();
}

void ClientConnection::step(OutboundStarting& os) {
  if (hooks_) {
    switch (hooks_->run(tls::HookPoint::kOutboundStart)) {
      case tls::HookVerdict::kContinue:
        break;
      case tls::HookVerdict::kPending:
        return;  // its completion drives this again
      default:
        counters().add(Counter::kSslHookError);
        failUpstream(ConnectionError::kHookError,
                     "an OUTBOUND_START hook refused the origin connection");
        return;
    }
  }
  std::unique_ptr<Upstream> upstream = std::move(os.upstream);
  const EndpointDecision& target = upstream->target;
  // S18: the route's name, else the client's; none makes S19 check the origin's IP.
  tls::ClientHandshake::Params params;
  params.sni = target.originSni ? *target.originSni : route_.hello ? route_.hello->sni : "";
  params.origin = *target.address;
  params.verification = target.verification;
  // Offered to the origin: the route's, else ssl.client.alpn, else what the client got.
  const auto& offer = target.originAlpn ? target.originAlpn : snapshot_->origin.alpn;
  if (offer) {
    params.alpnWire = tls::alpnToWire(*offer);
  } else {
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &p, &len);
    if (len)
      params.alpnWire = tls::alpnToWire({std::string(reinterpret_cast<const char*>(p), len)});
  }
  params.ctx = target.originContext ? target.originContext : snapshot_->originContext.get();
  OriginSessionCache& cache = worker_.originSessions();
  upstream->sessions.cache = &cache;
  // The context is the client identity: a session is never resumed under another one.
  upstream->sessions.key = OriginSessionCache::keyOf(target.address->toString(), params.sni,
                                                     tls::originContextId(params.ctx));
  ossl::UniquePtr<SSL_SESSION> resume = cache.find(upstream->sessions.key);
  params.resume = resume.get();
  Upstream* up = upstream.get();
  auto& oh =
      phase_.emplace<OriginHandshaking>(std::move(upstream), params, counters(), hooks_.get());
  if (SSL* ssl = oh.driver.ssl()) {
    tls::setSessionSink(ssl, &up->sessions);
    tls::traceOriginOf(ssl_.get(), ssl, *up->target.address);  // S21
  }
  drive();
}

void ClientConnection::step(OriginHandshaking& oh) {
  oh.wait = oh.driver.advance();
  if (oh.driver.failed()) {
    worker_.reactor().cancel(timer_);
    counters().add(Counter::kOriginHandshakeFailure);
    TG_DEBUG(log::kSslError, "origin %s for %s: %s",
             log::escaped(oh.upstream->target.destination).c_str(), route_.peer.toString().c_str(),
             log::escaped(oh.driver.reason()).c_str());
    failUpstream(ConnectionError::kOriginHandshakeFailed, "origin handshake failed");
    return;
  }
  if (!oh.driver.done()) return;
  if (snapshot_->origin.sessionCache)
    counters().add(SSL_session_reused(oh.driver.ssl()) ? Counter::kOriginSessionCacheHits
                                                       : Counter::kOriginSessionCacheMisses);
  std::unique_ptr<Upstream> upstream = std::move(oh.upstream);
  upstream->ssl = oh.driver.takeSsl();
  startRelay(std::move(upstream));
}

void ClientConnection::startRelay(std::unique_ptr<Upstream> upstream) {
  record_.outcome = upstream->target.kind == EndpointKind::kOriginTls
                        ? stats::Outcome::kPartialBlind
                        : stats::Outcome::kForward;
  phase_.emplace<Relaying>(ssl_.get(), io_, std::move(upstream), worker_.buffers(), counters());
  armFor(snapshot_->relayIdleTimeout);
  drive();
}

}  // namespace tlsgate::proxy
