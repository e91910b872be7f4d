// ClientConnection's life: start, the one dispatch over its phases, events, timers, close.
#include "proxy/client_connection.h"

#include <sys/epoll.h>

#include "core/log.h"
#include "net/proxy_protocol.h"
#include "net/socket.h"
#include "proxy/worker.h"

namespace tlsgate::proxy {

using stats::Counter;

namespace {
constexpr uint32_t kAllEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
}  // namespace

ClientConnection::ClientConnection(Worker& worker, Fd fd, const net::Address& peer,
                                   const net::Address& local,
                                   std::shared_ptr<const Snapshot> snapshot, size_t listenerIndex,
                                   stats::ListenerStats* listenerStats)
    : worker_(worker),
      fd_(std::move(fd)),
      snapshot_(std::move(snapshot)),
      listenerIndex_(listenerIndex),
      listenerStats_(listenerStats),
      timer_(this),
      upstreamEvents_(*this) {
  route_.listener = &listener();
  route_.socketPeer = peer;
  route_.peer = peer;
  route_.local = local;
  route_.listenerPort = local.port();
  io_.fd = fd_.get();
  io_.handshake = std::make_unique<tls::HandshakeBuffer>();
}

ClientConnection::~ClientConnection() {
  worker_.reactor().cancel(timer_);
}

const ListenerSettings& ClientConnection::listener() const {
  return snapshot_->listeners[listenerIndex_];
}

stats::CounterBlock& ClientConnection::counters() {
  return worker_.counters();
}

void ClientConnection::start() {
  if (listenerStats_) listenerStats_->accepted(worker_.id());
  if (!listener().proxyProtocol) {
    admitSource();
    // Refused at accept: closed before it is watched, timed or read (admission.h).
    if (route_.admission.refused) return proceed();
  }
  worker_.reactor().add(fd_.get(), kAllEvents, this);
  // S1: the handshake clock (it also bounds the PROXY header); traffic does not extend it.
  auto timeout = snapshot_->serverParams.handshakeTimeout;
  if (timeout.count() > 0) worker_.reactor().arm(timer_, timeout);
  proceed();
}

void ClientConnection::drive() {
  std::visit([this](auto& phase) { step(phase); }, phase_);
}

void ClientConnection::step(AwaitingProxyHeader&) {
  if (!io_.readable) return;
  // Peek, so that nothing after the header is taken from the socket: TLS reads it next.
  char buf[net::kProxyMaxBytes];
  size_t n = 0;
  switch (net::peekSome(io_, buf, sizeof buf, n)) {
    case net::RecvStatus::kDrained:
      return;
    case net::RecvStatus::kEof:
      closeWith(ConnectionError::kClientClosed, "EOF before the PROXY header");
      return;
    case net::RecvStatus::kError:
      closeWith(ConnectionError::kClientClosed, "recv failed before the PROXY header");
      return;
    case net::RecvStatus::kData:
      break;
  }
  net::ProxyParseResult r = net::parseProxyHeader(reinterpret_cast<const uint8_t*>(buf), n);
  if (r.status == net::ProxyParseStatus::kNeedMore && !io_.hangup && n < sizeof buf) {
    io_.readable = false;  // the rest brings a new edge
    return;
  }
  if (r.status != net::ProxyParseStatus::kDone || !net::discard(io_, r.consumed)) {
    counters().add(Counter::kProxyProtocolInvalid);
    TG_DEBUG(log::kNet, "%s: bad PROXY header: %s", route_.peer.toString().c_str(),
             log::escaped(r.status == net::ProxyParseStatus::kDone ? "cannot consume it"
                          : r.error.empty()                        ? "incomplete"
                                                                   : r.error)
                 .c_str());
    closeWith(ConnectionError::kProxyInvalid, "bad PROXY header");
    return;
  }
  counters().add(Counter::kProxyProtocolAccepted);
  if (r.header.hasAddresses) {
    TG_DEBUG(log::kNet, "%s: PROXY v%d says client %s, destination %s",
             route_.peer.toString().c_str(), r.header.version, r.header.source.toString().c_str(),
             r.header.destination.toString().c_str());
    route_.peer = r.header.source;
    route_.local = r.header.destination;
    route_.proxyProtocolPort = route_.local.port();
  }
  route_.proxyHeaderRead = true;
  admitSource();  // the source the header names is the one admission control counts
  proceed();
}

void ClientConnection::step(AwaitingFirstByte&) {
  if (!io_.readable) return;
  char first = 0;
  size_t n = 0;
  switch (net::peekSome(io_, &first, 1, n)) {
    case net::RecvStatus::kDrained:
      return;
    case net::RecvStatus::kEof:
      closeWith(ConnectionError::kClientClosed, "EOF before the first byte");
      return;
    case net::RecvStatus::kError:
      closeWith(ConnectionError::kClientClosed, "recv failed before the first byte");
      return;
    case net::RecvStatus::kData:
      break;
  }
  route_.firstByte = static_cast<uint8_t>(first);  // S9
  proceed();
}

void ClientConnection::step(Handshaking& hs) {
  hs.wait = hs.driver.advance();  // S3: it knows what it waits for
  if (!hs.driver.over()) return;
  recordHandshake(hs);
  afterHandshake(hs);
}

void ClientConnection::step(Relaying& r) {
  settle(r.relay.pump(), "relay finished", "relay failed");
}

void ClientConnection::step(Inspecting& in) {
  Progress progress = in.responder.pump();
  if (in.responder.takeAnswered()) armFor(snapshot_->inspectTimeout);  // the next one's clock
  settle(progress, "inspect finished", "inspect failed");
}

void ClientConnection::step(Tunneling& t) {
  settle(t.tunnel.pump(), "tunnel finished", "tunnel failed");
}

void ClientConnection::settle(Progress progress, const char* finished, const char* failed) {
  if (progress == Progress::kFinished)
    close(finished);
  else if (progress == Progress::kFailed)
    closeWith(std::holds_alternative<Tunneling>(phase_) ? ConnectionError::kTunnelFailed
                                                        : ConnectionError::kRelayFailed,
              failed);
}

namespace {

// Whether readiness can move a driver that returned `wait` (S3: a hook's turn is not).
bool readyFor(tls::HandshakeWait wait, const tls::SocketIo& io) {
  switch (wait) {
    case tls::HandshakeWait::kHook:
      return false;
    case tls::HandshakeWait::kRead:
      return io.mayRead();
    case tls::HandshakeWait::kWrite:
      return io.writable;
    case tls::HandshakeWait::kNone:
      break;
  }
  return true;
}

}  // namespace

void ClientConnection::onEvents(uint32_t events) {
  io_.update(events);
  if (auto* hs = std::get_if<Handshaking>(&phase_); hs && !readyFor(hs->wait, io_)) return;
  drive();
}

void ClientConnection::onHookCompleted() {
  if (std::holds_alternative<Closing>(phase_)) {
    finishClose();
    return;
  }
  if (auto* hs = std::get_if<Handshaking>(&phase_)) hs->wait = tls::HandshakeWait::kNone;
  drive();
}

void ClientConnection::armFor(Clock::duration timeout) {
  if (timeout.count() > 0)
    worker_.reactor().arm(timer_, timeout);
  else
    worker_.reactor().cancel(timer_);  // 0: the operator chose no bound for this phase
}

// The phase's clock ran out. Each phase's timeout and what it does: README "Timeouts".
void ClientConnection::onTimer() {
  if (auto* t = std::get_if<Tunneling>(&phase_)) {
    if (t->tunnel.takeActivity()) {  // bytes moved since the last check: look again later
      armFor(snapshot_->tunnelIdleTimeout);
      return;
    }
    counters().add(Counter::kTunnelInactivityTimeouts);
    closeWith(ConnectionError::kTunnelIdleTimeout, "tunnel inactivity timeout");
  } else if (auto* r = std::get_if<Relaying>(&phase_)) {
    if (r->relay.takeActivity()) {
      armFor(snapshot_->relayIdleTimeout);
      return;
    }
    counters().add(Counter::kRelayInactivityTimeouts);
    failUpstream(ConnectionError::kRelayIdleTimeout, "relay inactivity timeout");
  } else if (std::holds_alternative<Inspecting>(phase_)) {
    counters().add(Counter::kInspectRequestTimeouts);
    failUpstream(ConnectionError::kInspectTimeout, "inspect request timeout");
  } else if (std::holds_alternative<Resolving>(phase_) ||
             std::holds_alternative<Connecting>(phase_)) {
    counters().add(Counter::kUpstreamConnectTimeouts);
    failUpstream(ConnectionError::kConnectTimeout, "upstream connect timeout");
  } else if (auto* oh = std::get_if<OriginHandshaking>(&phase_)) {
    oh->driver.timeout();  // ssl.client.handshake_timeout_in: counted by the driver
    failUpstream(ConnectionError::kOriginHandshakeTimeout, "origin handshake timeout");
  } else if (std::holds_alternative<OutboundStarting>(phase_)) {
    counters().add(Counter::kSslOriginHandshakeTimeout);  // its clock covers the hooks
    failUpstream(ConnectionError::kOriginHandshakeTimeout, "OUTBOUND_START hooks timed out");
  } else {
    expireHandshake();
  }
}

void ClientConnection::expireHandshake() {
  if (auto* hs = std::get_if<Handshaking>(&phase_)) {
    if (hs->onDemandToken) {  // an on-demand wait's deadline, not the handshake's
      onDemandAnswered(/*timedOut=*/true);
      return;
    }
    hs->driver.timeout();  // S1: counted by the driver
    closeWith(ConnectionError::kHandshakeTimeout, "handshake timeout");
  } else if (std::holds_alternative<AwaitingProxyHeader>(phase_) ||
             std::holds_alternative<AwaitingFirstByte>(phase_)) {
    // The clock covers the PROXY header and S9's first byte too.
    counters().add(Counter::kSslHandshakeTimeout);
    closeWith(ConnectionError::kHandshakeTimeout, "handshake timeout before TLS");
  }
}

void ClientConnection::close(const char* why) {
  if (std::holds_alternative<Closing>(phase_) || !fd_.valid()) return;
  TG_DEBUG(log::kNet, "close %s: %s", route_.peer.toString().c_str(), log::escaped(why).c_str());
  worker_.reactor().cancel(timer_);
  endHandshakeAdmission();
  noteDataPhaseEnd();
  // A close_notify to the origin whatever ended the connection: OpenSSL marks the session
  // of a TLS connection freed without one as not resumable, and a client that resets (as
  // many do) would cost every later connection a full handshake with the origin.
  if (auto* r = std::get_if<Relaying>(&phase_); r && r->upstream->ssl)
    tls::tlsShutdown(r->upstream->ssl.get());
  phase_.emplace<Closing>();  // ends the handshake, relay or tunnel and their sockets
  recordClose();
  if (hooks_) hooks_->sessionCreated(nullptr);
  ssl_.reset();
  fd_.reset();  // closing removes it from epoll
  finishClose();
}

void ClientConnection::finishClose() {
  // VCONN_CLOSE: once per connection, whatever ended it, even while an earlier hook still
  // holds the connection (S13: that turn is cancelled when the runner goes, see vconn.h).
  if (hooks_ && hooks_->run(tls::HookPoint::kVconnClose) == tls::HookVerdict::kPending) return;
  phase_.emplace<std::monostate>();
  worker_.release(this);
}

void ClientConnection::abandon() {
  closeWith(ConnectionError::kShutdown, "shutdown");
  if (std::holds_alternative<Closing>(phase_)) {  // a VCONN_CLOSE hook has not finished
    phase_.emplace<std::monostate>();
    worker_.release(this);
  }
}

}  // namespace tlsgate::proxy
