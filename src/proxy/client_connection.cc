#include "proxy/client_connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/access_log.h"
#include "core/json.h"
#include "core/log.h"
#include "hooks/hook_registry.h"
#include "net/proxy_protocol.h"
#include "net/resolver.h"
#include "net/socket.h"
#include "proxy/worker.h"
#include "tls/session_info.h"
#include "tls/tls_io.h"
#include "tls/wire_trace.h"

namespace tlsgate::proxy {

using stats::Counter;

namespace {
constexpr uint32_t kAllEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
constexpr uint8_t kTlsHandshakeRecord = 0x16;
}  // namespace

ClientConnection::ClientConnection(Worker& worker, Fd fd, const net::Address& peer,
                                   const net::Address& local,
                                   std::shared_ptr<const Snapshot> snapshot, size_t listenerIndex,
                                   stats::ListenerStats* listenerStats)
    : worker_(worker),
      fd_(std::move(fd)),
      peer_(peer),
      local_(local),
      snapshot_(std::move(snapshot)),
      listenerIndex_(listenerIndex),
      listenerStats_(listenerStats),
      listenerPort_(local.port()),
      timer_(this),
      upstreamEvents_(*this) {
  io_.fd = fd_.get();
  io_.handshake = std::make_unique<tls::HandshakeBuffer>();
}

ClientConnection::~ClientConnection() {
  worker_.reactor().cancel(timer_);
  if (resolveToken_) *resolveToken_ = nullptr;
}

const ListenerSettings& ClientConnection::listener() const {
  return snapshot_->listeners[listenerIndex_];
}

void ClientConnection::start() {
  if (listenerStats_) listenerStats_->accepted(worker_.id());
  worker_.reactor().add(fd_.get(), kAllEvents, this);
  // S1: the handshake clock (it also bounds the PROXY header); traffic does not extend it.
  auto timeout = snapshot_->serverParams.handshakeTimeout;
  if (timeout.count() > 0) worker_.reactor().arm(timer_, timeout);
  if (listener().proxyProtocol) {
    // Only the proxies in front of us may say who the client is.
    if (!listener().proxyProtocolFrom.contains(peer_)) {
      worker_.counters().add(Counter::kProxyProtocolRefused);
      closeWith(ConnectionError::kProxyRefused,
                "PROXY header expected from a source not in proxy_protocol_from");
      return;
    }
    phase_.emplace<ReadingProxyHeader>();
    drive();
    return;
  }
  afterProxyHeader();
}

void ClientConnection::afterProxyHeader() {
  if (listener().transparent) {
    // S5: the destination's certificate entry says tunnel: go on to where the client was
    // going before reading a byte.
    const tls::CertEntry* entry = snapshot_->certs->findByAddress(local_);
    if (entry && entry->tunnel) {
      worker_.counters().add(Counter::kDestIpTunnels);
      startTunnel("", {});
      return;
    }
  }
  if (listener().passthrough) {
    phase_.emplace<SniffingFirstByte>();
    drive();
    return;
  }
  startHandshake();
}

bool ClientConnection::readProxyHeader() {
  // Peek, so that nothing after the header is taken from the socket: TLS reads it next.
  uint8_t buf[net::kProxyMaxBytes];
  ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_PEEK);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      io_.readable = false;
      return false;
    }
    closeWith(ConnectionError::kClientClosed, "recv failed before the PROXY header");
    return false;
  }
  if (n == 0) {
    closeWith(ConnectionError::kClientClosed, "EOF before the PROXY header");
    return false;
  }
  net::ProxyParseResult r = net::parseProxyHeader(buf, static_cast<size_t>(n));
  if (r.status == net::ProxyParseStatus::kNeedMore) {
    if (io_.hangup || static_cast<size_t>(n) == sizeof buf) {
      worker_.counters().add(Counter::kProxyProtocolInvalid);
      closeWith(ConnectionError::kProxyInvalid, "incomplete PROXY header");
      return false;
    }
    io_.readable = false;  // the rest brings a new edge
    return false;
  }
  if (r.status == net::ProxyParseStatus::kInvalid) {
    worker_.counters().add(Counter::kProxyProtocolInvalid);
    TG_DEBUG(log::kNet, "%s: bad PROXY header: %s", peer_.toString().c_str(), r.error.c_str());
    closeWith(ConnectionError::kProxyInvalid, "bad PROXY header");
    return false;
  }
  if (::recv(fd_.get(), buf, r.consumed, 0) != static_cast<ssize_t>(r.consumed)) {
    closeWith(ConnectionError::kClientClosed, "cannot consume the PROXY header");
    return false;
  }
  worker_.counters().add(Counter::kProxyProtocolAccepted);
  if (r.header.hasAddresses) {
    TG_DEBUG(log::kNet, "%s: PROXY v%d says client %s, destination %s", peer_.toString().c_str(),
             r.header.version, r.header.source.toString().c_str(),
             r.header.destination.toString().c_str());
    peer_ = r.header.source;
    local_ = r.header.destination;
    proxyProtocolPort_ = local_.port();
  }
  return true;
}

void ClientConnection::sniffFirstByte() {
  uint8_t first = 0;
  ssize_t n = ::recv(fd_.get(), &first, 1, MSG_PEEK);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      io_.readable = false;
    else
      closeWith(ConnectionError::kClientClosed, "recv failed before the first byte");
    return;
  }
  if (n == 0) {
    closeWith(ConnectionError::kClientClosed, "EOF before the first byte");
    return;
  }
  if (first != kTlsHandshakeRecord) {
    // S9: not TLS: the bytes go, untouched, where the client was going.
    worker_.counters().add(Counter::kPassthroughTunnels);
    TG_DEBUG(log::kNet, "%s: first byte 0x%02x is not TLS: pass-through", peer_.toString().c_str(),
             first);
    startTunnel("", {});
    return;
  }
  startHandshake();
}

void ClientConnection::startHandshake() {
  if (!hooks::HookRegistry::instance().empty())
    hooks_ = std::make_unique<hooks::HookRunner>(worker_.link(), *this, *snapshot_->certs, peer_,
                                                 local_);
  routing_.emplace(*snapshot_->routes, listener().transparent, listenerPort_, proxyProtocolPort_,
                   peer_, local_, worker_.counters());
  // The per-name policy runs only when there is something to decide at the ClientHello.
  tls::HandshakePolicy* policy =
      !snapshot_->routes->rules.empty() || listener().transparent ? &*routing_ : nullptr;
  phase_.emplace<Handshaking>(*snapshot_->certs, snapshot_->serverParams, tls::newSocketBio(&io_),
                              local_, peer_, worker_.counters(), hooks_.get(), policy);
  drive();
}

void ClientConnection::close(const char* why) {
  if (std::holds_alternative<Closing>(phase_) || !fd_.valid()) return;
  TG_DEBUG(log::kNet, "close %s: %s", peer_.toString().c_str(), why);
  worker_.reactor().cancel(timer_);
  noteDataPhaseEnd();
  phase_.emplace<Closing>();  // ends the handshake, relay or tunnel and their sockets
  recordClose();
  if (hooks_) hooks_->sessionCreated(nullptr);
  // A close_notify to the origin whatever ended the connection: OpenSSL marks the session
  // of a TLS connection freed without one as not resumable, and a client that resets
  // (as many do) would cost every later connection a full handshake with the origin.
  if (upstreamSsl_) tls::tlsShutdown(upstreamSsl_.get());
  upstreamSsl_.reset();
  upstreamFd_.reset();
  ssl_.reset();
  fd_.reset();  // closing removes it from epoll
  finishClose();
}

void ClientConnection::finishClose() {
  if (hooks_) {
    // VCONN_CLOSE: once per connection, whatever ended it, even while an earlier hook still
    // holds the connection (so that its plugin learns it can let go).
    if (hooks_->run(tls::HookPoint::kVconnClose) == tls::HookVerdict::kPending) return;
    // S13: never freed under a hook; its completion comes back here.
    if (hooks_->holding()) return;
  }
  phase_.emplace<std::monostate>();
  worker_.release(this);
}

void ClientConnection::abandon() {
  closeWith(ConnectionError::kShutdown, "shutdown");
  if (std::holds_alternative<Closing>(phase_)) {  // still held by a hook
    phase_.emplace<std::monostate>();
    worker_.release(this);
  }
}

void ClientConnection::onHookCompleted() {
  if (std::holds_alternative<Closing>(phase_))
    finishClose();
  else
    drive();
}

void ClientConnection::onEvents(uint32_t events) {
  io_.update(events);
  drive();
}

void ClientConnection::onUpstreamEvents(uint32_t events) {
  upstreamIo_.update(events);
  if (std::holds_alternative<Connecting>(phase_)) {
    finishConnect(events);
    return;
  }
  if (auto* t = std::get_if<Tunneling>(&phase_)) t->tunnel.destinationReady(events);
  drive();
}

void ClientConnection::onTimer() {
  if (auto* t = std::get_if<Tunneling>(&phase_)) {
    if (t->tunnel.takeActivity()) {  // bytes moved since the last check: look again later
      worker_.reactor().arm(timer_, snapshot_->tunnelIdleTimeout);
      return;
    }
    worker_.counters().add(Counter::kTunnelInactivityTimeouts);
    closeWith(ConnectionError::kTunnelIdleTimeout, "tunnel inactivity timeout");
    return;
  }
  if (auto* oh = std::get_if<OriginHandshaking>(&phase_)) {
    oh->driver.timeout();  // ssl.client.handshake_timeout_in: counted by the driver
    failUpstream(ConnectionError::kOriginHandshakeTimeout, "origin handshake timeout");
  } else if (auto* hs = std::get_if<Handshaking>(&phase_)) {
    hs->driver.timeout();  // S1: counted by the driver
    closeWith(ConnectionError::kHandshakeTimeout, "handshake timeout");
  } else if (std::holds_alternative<ReadingProxyHeader>(phase_) ||
             std::holds_alternative<SniffingFirstByte>(phase_)) {
    // The clock covers the PROXY header and S9's first byte too.
    worker_.counters().add(Counter::kSslHandshakeTimeout);
    closeWith(ConnectionError::kHandshakeTimeout, "handshake timeout before TLS");
  }
}

void ClientConnection::drive() {
  if (auto* hs = std::get_if<Handshaking>(&phase_)) {
    driveHandshake(*hs);
  } else if (auto* r = std::get_if<Relaying>(&phase_)) {
    settle(r->relay.pump(), "relay finished", "relay failed");
  } else if (auto* t = std::get_if<Tunneling>(&phase_)) {
    settle(t->tunnel.pump(), "tunnel finished", "tunnel failed");
  } else if (auto* in = std::get_if<Inspecting>(&phase_)) {
    settle(in->responder.pump(), "inspect finished", "inspect failed");
  } else if (auto* oh = std::get_if<OriginHandshaking>(&phase_)) {
    driveOriginHandshake(*oh);
  } else if (std::holds_alternative<OutboundStarting>(phase_)) {
    startOriginHandshake();
  } else if (std::holds_alternative<ReadingProxyHeader>(phase_)) {
    if (io_.readable && readProxyHeader()) afterProxyHeader();  // handshake or tunnel next
  } else if (std::holds_alternative<SniffingFirstByte>(phase_)) {
    if (io_.readable) sniffFirstByte();
  }
  // Resolving, Connecting: nothing to do until the answer comes.
}

void ClientConnection::settle(Progress progress, const char* finished, const char* failed) {
  if (progress == Progress::kFinished)
    close(finished);
  else if (progress == Progress::kFailed)
    closeWith(std::holds_alternative<Tunneling>(phase_) ? ConnectionError::kTunnelFailed
                                                        : ConnectionError::kRelayFailed,
              failed);
}

void ClientConnection::driveHandshake(Handshaking& hs) {
  hs.driver.advance();  // S3: re-entered on every event; it knows what it waits for
  tls::HandshakeState state = hs.driver.state();
  if (state == tls::HandshakeState::kDone || state == tls::HandshakeState::kFailed ||
      state == tls::HandshakeState::kTerminated || state == tls::HandshakeState::kTunnel)
    recordHandshake(hs.driver);
  switch (state) {
    case tls::HandshakeState::kDone:
      onHandshakeDone(hs.driver);
      break;
    case tls::HandshakeState::kFailed:
      closeWith(fromHandshakeError(hs.driver.error()), tls::toString(hs.driver.error()));
      break;
    case tls::HandshakeState::kTerminated:
      closeWith(ConnectionError::kHookTerminated, "terminated by a hook");
      break;
    case tls::HandshakeState::kTunnel: {
      // S10: a tunnel decided after bytes were read replays them, so the destination sees
      // the ClientHello exactly as the client sent it.
      std::string replay(io_.handshake ? io_.handshake->received() : std::string_view{});
      std::string destination = hs.driver.tunnelDestination();
      startTunnel(destination, std::move(replay));
      break;
    }
    default:
      break;
  }
}

void ClientConnection::startTunnel(const std::string& destination, std::string replay) {
  worker_.reactor().cancel(timer_);  // the handshake is over
  replay_ = std::move(replay);
  target_ = EndpointDecision{};
  target_.kind = EndpointKind::kTunnel;
  record_.route = EndpointKind::kTunnel;
  if (destination.empty()) {
    // The original destination: what TPROXY preserved, or what a PROXY header said. On an
    // ordinary listener that is tlsgate itself, and a tunnel there would loop.
    if (!listener().transparent && proxyProtocolPort_ == 0) {
      log::warning(
          "tunnel for %s: the original destination is this listener (%s); a "
          "transparent listener or a PROXY header is needed to tunnel there",
          peer_.toString().c_str(), local_.toString().c_str());
      closeWith(ConnectionError::kNoTunnelDestination, "tunnel without destination");
      return;
    }
    target_.address = local_;
    target_.destination = local_.toString();
  } else {
    target_.destination = destination;
    target_.address = net::parseAddress(destination, /*requirePort=*/true);
  }
  if (routing_) target_.sendProxyProtocol = routing_->tunnelSendsProxyProtocol();
  TG_DEBUG(log::kNet, "tunnel %s -> %s, replaying %zu bytes", peer_.toString().c_str(),
           target_.destination.c_str(), replay_.size());
  io_.handshake.reset();
  connectTarget();
}

void ClientConnection::connectTarget() {
  if (target_.address) {
    startConnect(*target_.address);
    return;
  }
  // A host name known only now: resolved off the loop, answered on this worker.
  phase_.emplace<Resolving>();
  resolveToken_ = std::make_shared<ClientConnection*>(this);
  std::weak_ptr<ClientConnection*> token = resolveToken_;
  std::shared_ptr<hooks::ReactorLink> link = worker_.link();
  net::Resolver::instance().resolve(target_.destination,
                                    [token, link](Result<net::Address> address) {
                                      link->post([token, address = std::move(address)]() mutable {
                                        auto alive = token.lock();
                                        if (alive && *alive)
                                          (*alive)->onResolved(std::move(address));
                                      });
                                    });
}

void ClientConnection::onResolved(Result<net::Address> address) {
  resolveToken_.reset();
  if (!std::holds_alternative<Resolving>(phase_)) return;
  if (!address) {
    worker_.counters().add(Counter::kResolveFailure);
    log::warning("%s: cannot resolve '%s': %s", peer_.toString().c_str(),
                 target_.destination.c_str(), address.error().message.c_str());
    failUpstream(ConnectionError::kResolveFailed, "resolve failed");
    return;
  }
  target_.address = *address;
  startConnect(*address);
}

void ClientConnection::startConnect(const net::Address& address) {
  record_.upstream = address.toString();
  auto fd = net::connectNonBlocking(address);
  if (!fd) {
    worker_.counters().add(Counter::kUpstreamConnectFailure);
    log::warning("upstream %s: %s", address.toString().c_str(), fd.error().message.c_str());
    failUpstream(ConnectionError::kConnectFailed, "upstream connect failed");
    return;
  }
  upstreamFd_ = std::move(fd.value());
  upstreamIo_ = tls::SocketIo{};
  upstreamIo_.fd = upstreamFd_.get();
  phase_.emplace<Connecting>();
  worker_.reactor().add(upstreamFd_.get(), kAllEvents, &upstreamEvents_);
}

void ClientConnection::failUpstream(ConnectionError error, const char* why) {
  if (ssl_) tls::tlsShutdown(ssl_.get());  // a clean TLS close for the client
  closeWith(error, why);
}

void ClientConnection::closeWith(ConnectionError error, const char* why) {
  if (record_.error == ConnectionError::kNone) record_.error = error;
  close(why);
}

std::string ClientConnection::outboundProxyHeader() const {
  if (target_.sendProxyProtocol == 1) return net::buildProxyV1(peer_, local_);
  if (target_.sendProxyProtocol != 2) return {};
  // As HAProxy's send-proxy-v2 with ssl, authority and alpn: what the client negotiated.
  net::ProxyV2Tlvs tlvs;
  if (ssl_) {
    const unsigned char* alpn = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &alpn, &len);
    tlvs.alpn.assign(reinterpret_cast<const char*>(alpn), len);
    if (const char* sni = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name))
      tlvs.authority = sni;
    tlvs.sslVersion = SSL_get_version(ssl_.get());
    tlvs.sslCipher = SSL_get_cipher_name(ssl_.get());
    X509* clientCert = SSL_get0_peer_certificate(ssl_.get());
    tlvs.clientCertVerified = clientCert && SSL_get_verify_result(ssl_.get()) == X509_V_OK;
  } else if (routing_) {
    tlvs.authority = routing_->sni();
  }
  return net::buildProxyV2(peer_, local_, tlvs);
}

void ClientConnection::finishConnect(uint32_t events) {
  if (int err = net::connectResult(upstreamFd_.get()); err != 0) {
    worker_.counters().add(Counter::kUpstreamConnectFailure);
    TG_DEBUG(log::kRelay, "upstream %s for %s: %s", target_.destination.c_str(),
             peer_.toString().c_str(), std::strerror(err));
    failUpstream(ConnectionError::kConnectFailed, "upstream connect failed");
    return;
  }
  std::string proxyHeader = outboundProxyHeader();
  if (target_.kind == EndpointKind::kTunnel) {
    auto& t = phase_.emplace<Tunneling>(io_, std::move(upstreamFd_), proxyHeader + replay_,
                                        worker_.counters());
    record_.outcome = stats::Outcome::kTunnel;
    std::string().swap(replay_);
    t.tunnel.destinationReady(events);
    if (snapshot_->tunnelIdleTimeout.count() > 0)
      worker_.reactor().arm(timer_, snapshot_->tunnelIdleTimeout);
    drive();
    return;
  }
  // A fresh connection's send buffer takes a PROXY header (at most a few hundred bytes)
  // whole; anything else is a broken upstream.
  if (!proxyHeader.empty() && ::send(upstreamFd_.get(), proxyHeader.data(), proxyHeader.size(),
                                     MSG_NOSIGNAL) != static_cast<ssize_t>(proxyHeader.size())) {
    failUpstream(ConnectionError::kConnectFailed, "cannot send the PROXY header");
    return;
  }
  if (target_.kind == EndpointKind::kOriginTls) {
    phase_.emplace<OutboundStarting>();
    startOriginHandshake();
    return;
  }
  startRelay(std::make_unique<PlainStream>(upstreamIo_));
}

void ClientConnection::startOriginHandshake() {
  if (hooks_) {
    switch (hooks_->run(tls::HookPoint::kOutboundStart)) {
      case tls::HookVerdict::kContinue:
        break;
      case tls::HookVerdict::kPending:
        return;  // its completion drives this again
      default:
        worker_.counters().add(Counter::kSslHookError);
        failUpstream(ConnectionError::kHookError,
                     "an OUTBOUND_START hook refused the origin connection");
        return;
    }
  }
  // S18: the route's name, else the client's; none makes S19 check the origin's IP.
  const char* clientSni = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
  std::string sni = target_.originSni ? *target_.originSni : clientSni ? clientSni : "";
  // Offered to the origin: the route's, else ssl.client.alpn, else what the client
  // negotiated.
  const OriginSettings& origin = snapshot_->origin;
  const auto& offer = target_.originAlpn ? target_.originAlpn : origin.alpn;
  std::string alpnWire;
  if (offer) {
    alpnWire = tls::alpnToWire(*offer);
  } else {
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &p, &len);
    if (len) alpnWire = tls::alpnToWire({std::string(reinterpret_cast<const char*>(p), len)});
  }
  SSL_CTX* ctx = target_.originContext ? target_.originContext : snapshot_->originContext.get();
  OriginSessionCache& cache = worker_.originSessions();
  originSessions_.cache = &cache;
  // The context is the client identity: a session is never resumed under another one.
  originSessions_.key =
      OriginSessionCache::keyOf(target_.address->toString(), sni, tls::originContextId(ctx));
  ossl::UniquePtr<SSL_SESSION> resume = cache.find(originSessions_.key);
  auto& oh = phase_.emplace<OriginHandshaking>(ctx, tls::newSocketBio(&upstreamIo_), sni,
                                               *target_.address, target_.verification, alpnWire,
                                               resume.get(), worker_.counters(), hooks_.get());
  if (oh.driver.ssl()) tls::setSessionSink(oh.driver.ssl(), &originSessions_);
  if (oh.driver.ssl()) tls::traceOriginOf(ssl_.get(), oh.driver.ssl(), *target_.address);  // S21
  if (origin.handshakeTimeout.count() > 0) worker_.reactor().arm(timer_, origin.handshakeTimeout);
  driveOriginHandshake(oh);
}

void ClientConnection::driveOriginHandshake(OriginHandshaking& oh) {
  oh.driver.advance();
  if (oh.driver.failed()) {
    worker_.reactor().cancel(timer_);
    worker_.counters().add(Counter::kOriginHandshakeFailure);
    TG_DEBUG(log::kSslError, "origin %s for %s: %s", target_.destination.c_str(),
             peer_.toString().c_str(), oh.driver.reason().c_str());
    failUpstream(ConnectionError::kOriginHandshakeFailed, "origin handshake failed");
    return;
  }
  if (!oh.driver.done()) return;
  worker_.reactor().cancel(timer_);
  if (snapshot_->origin.sessionCache)
    worker_.counters().add(SSL_session_reused(oh.driver.ssl())
                               ? Counter::kOriginSessionCacheHits
                               : Counter::kOriginSessionCacheMisses);
  upstreamSsl_ = oh.driver.takeSsl();
  startRelay(std::make_unique<TlsStream>(upstreamSsl_.get(), upstreamIo_));
}

void ClientConnection::startRelay(std::unique_ptr<Stream> upstream) {
  record_.outcome = target_.kind == EndpointKind::kOriginTls ? stats::Outcome::kPartialBlind
                                                             : stats::Outcome::kForward;
  phase_.emplace<Relaying>(ssl_.get(), io_, std::move(upstream), worker_.buffers(),
                           worker_.counters());
  drive();
}

void ClientConnection::onHandshakeDone(tls::ServerHandshake& driver) {
  worker_.reactor().cancel(timer_);  // S14: stop the handshake clock
  auto handshakeTime = driver.elapsed();
  ssl_ = driver.takeSsl();
  io_.endHandshake();
  // S14: the endpoint registered for the negotiated protocol.
  target_ = routing_->endpointFor(ssl_.get());
  if (!target_.refusal.empty()) {
    worker_.counters().add(Counter::kNoEndpoint);
    TG_DEBUG(log::kSslError, "%s: %s", peer_.toString().c_str(), target_.refusal.c_str());
    failUpstream(ConnectionError::kNoEndpoint, "no endpoint");
    return;
  }
  record_.route = target_.kind;
  if (target_.kind == EndpointKind::kInspect) {
    record_.outcome = stats::Outcome::kTerminated;
    std::string body = inspectBody(handshakeTime);
    phase_.emplace<Inspecting>(ssl_.get(), io_, std::move(body), worker_.counters());
    drive();
    return;
  }
  connectTarget();
}

void ClientConnection::recordHandshake(const tls::ServerHandshake& driver) {
  if (record_.handshakeRecorded) return;
  record_.handshakeRecorded = true;
  SSL* ssl = driver.ssl();
  if (!ssl) return;
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) record_.sni = sni;
  if (driver.state() != tls::HandshakeState::kDone) return;
  record_.handshakeDone = true;
  record_.handshakeTime = driver.elapsed();
  const unsigned char* alpn = nullptr;
  unsigned alpnLen = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpnLen);
  if (alpn) record_.alpn.assign(reinterpret_cast<const char*>(alpn), alpnLen);
  record_.version = SSL_get_version(ssl);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  record_.cipher = cipher ? SSL_CIPHER_get_name(cipher) : nullptr;
  record_.group = tls::negotiatedGroup(ssl);
  record_.helloRetry = driver.helloRetried();
  record_.cert = snapshot_->certs->info(SSL_get_certificate(ssl));
  size_t cipherIndex = cipher ? stats::LabelIndex::ciphers().indexOf(
                                    SSL_CIPHER_get_protocol_id(cipher), record_.cipher)
                              : 0;
  size_t groupIndex =
      record_.group.empty()
          ? 0
          : stats::LabelIndex::groups().indexOf(
                static_cast<uint32_t>(SSL_get_negotiated_group(ssl)), record_.group);
  worker_.counters().series.handshakeDone(static_cast<uint64_t>(record_.handshakeTime.count()),
                                          SSL_version(ssl), cipherIndex, groupIndex);
}

void ClientConnection::noteDataPhaseEnd() {
  if (auto* hs = std::get_if<Handshaking>(&phase_)) {
    recordHandshake(hs->driver);  // a timeout or a shutdown mid-handshake
  } else if (auto* r = std::get_if<Relaying>(&phase_)) {
    record_.bytesIn = r->relay.bytesToUpstream();
    record_.bytesOut = r->relay.bytesToClient();
  } else if (auto* t = std::get_if<Tunneling>(&phase_)) {
    record_.bytesIn = t->tunnel.bytesToDestination();
    record_.bytesOut = t->tunnel.bytesToClient();
  }
}

void ClientConnection::recordClose() {
  if (listenerStats_)
    listenerStats_->closed(worker_.id(), record_.outcome, record_.bytesIn, record_.bytesOut);
  AccessLog* log = AccessLog::active();
  if (!log) return;
  std::string line = record_.toJsonLine(peer_, local_, std::chrono::system_clock::now());
  if (!log->append(static_cast<size_t>(worker_.id()), line))
    worker_.counters().add(Counter::kAccessLogDropped);
}

std::string ClientConnection::inspectBody(std::chrono::microseconds handshakeTime) const {
  tls::SessionInfo s = tls::describeSession(ssl_.get(), *snapshot_->certs);
  std::string out = "{\"sni\": ";
  json::appendStringOrNull(out, s.sni);
  out += ", \"alpn\": ";
  json::appendStringOrNull(out, s.alpn);
  out += ", \"version\": ";
  json::appendString(out, s.version);
  out += ", \"cipher\": ";
  json::appendString(out, s.cipher);
  out += ", \"group\": ";
  json::appendStringOrNull(out, s.group);
  out += record_.helloRetry ? ", \"hello_retry\": true" : ", \"hello_retry\": false";
  out += ", \"certificate\": {\"subject\": ";
  json::appendString(out, s.certSubject);
  out += ", \"sha256\": ";
  json::appendString(out, s.certSha256);
  out += "}, \"client\": ";
  json::appendString(out, peer_.toString());
  out += ", \"local\": ";
  json::appendString(out, local_.toString());
  char ms[64];
  std::snprintf(ms, sizeof ms, "%.3f", handshakeTime.count() / 1000.0);
  out += ", \"handshake_ms\": ";
  out += ms;
  out += ", \"resumed\": ";
  out += s.resumed ? "true" : "false";
  out += "}\n";
  return out;
}

}  // namespace tlsgate::proxy
