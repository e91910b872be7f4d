#include "proxy/client_connection.h"

#include <sys/epoll.h>

#include <cstring>

#include "core/json.h"
#include "core/log.h"
#include "hooks/hook_registry.h"
#include "net/socket.h"
#include "proxy/worker.h"
#include "tls/session_info.h"
#include "tls/tls_io.h"

namespace tlsgate::proxy {

using stats::Counter;

namespace {
constexpr uint32_t kAllEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
}

ClientConnection::ClientConnection(Worker& worker, Fd fd, const net::Address& peer,
                                   const net::Address& local,
                                   std::shared_ptr<const config::Snapshot> snapshot)
    : worker_(worker),
      fd_(std::move(fd)),
      peer_(peer),
      local_(local),
      snapshot_(std::move(snapshot)),
      timer_(this),
      upstreamEvents_(*this) {
  io_.fd = fd_.get();
  io_.handshake = std::make_unique<tls::HandshakeBuffer>();
}

ClientConnection::~ClientConnection() {
  worker_.reactor().cancel(timer_);
}

void ClientConnection::start() {
  worker_.reactor().add(fd_.get(), kAllEvents, this);
  // S1: the handshake clock; traffic does not extend it.
  auto timeout = snapshot_->serverParams.handshakeTimeout;
  if (timeout.count() > 0) worker_.reactor().arm(timer_, timeout);
  if (!hooks::HookRegistry::instance().empty())
    hooks_ = std::make_unique<hooks::HookRunner>(worker_.link(), *this, *snapshot_->certs, peer_,
                                                 local_);
  phase_.emplace<Handshaking>(*snapshot_->certs, snapshot_->serverParams, tls::newSocketBio(&io_),
                              local_, peer_, worker_.counters(), hooks_.get());
  drive();
}

void ClientConnection::close(const char* why) {
  if (std::holds_alternative<Closing>(phase_) || !fd_.valid()) return;
  TG_DEBUG(log::kNet, "close %s: %s", peer_.toString().c_str(), why);
  worker_.reactor().cancel(timer_);
  phase_.emplace<Closing>();  // ends the handshake, relay or tunnel and their sockets
  if (hooks_) hooks_->sessionCreated(nullptr);
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
  close("shutdown");
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
  if (auto* c = std::get_if<Connecting>(&phase_)) {
    finishConnect(*c, events);
    return;
  }
  if (auto* t = std::get_if<TunnelConnecting>(&phase_)) {
    finishTunnelConnect(*t, events);
    return;
  }
  if (auto* r = std::get_if<Relaying>(&phase_)) r->relay.upstreamReady(events);
  if (auto* t = std::get_if<Tunneling>(&phase_)) t->tunnel.destinationReady(events);
  drive();
}

void ClientConnection::onTimer() {
  if (auto* hs = std::get_if<Handshaking>(&phase_)) {
    hs->driver.timeout();  // S1
    close("handshake timeout");
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
  }
  // Connecting: nothing to do until the upstream answers.
}

void ClientConnection::settle(Progress progress, const char* finished, const char* failed) {
  if (progress == Progress::kFinished)
    close(finished);
  else if (progress == Progress::kFailed)
    close(failed);
}

void ClientConnection::driveHandshake(Handshaking& hs) {
  hs.driver.advance();  // S3: re-entered on every event; it knows what it waits for
  switch (hs.driver.state()) {
    case tls::HandshakeState::kDone:
      onHandshakeDone(hs.driver);
      break;
    case tls::HandshakeState::kFailed:
      close(tls::toString(hs.driver.error()));
      break;
    case tls::HandshakeState::kTerminated:
      close("terminated by a hook");
      break;
    case tls::HandshakeState::kTunnel:
      startTunnel(hooks_->tunnelDestination());
      break;
    default:
      break;
  }
}

void ClientConnection::startTunnel(const std::string& destination) {
  // S10: a tunnel decided after bytes were read replays them, so the destination sees the
  // ClientHello exactly as the client sent it.
  worker_.reactor().cancel(timer_);  // the handshake is over
  std::string replay(io_.handshake ? io_.handshake->received() : std::string_view{});
  auto address = net::parseAddress(destination, /*requirePort=*/true);
  if (!address) {
    // The original destination is ourselves until transparent listeners exist.
    log::warning(
        "tunnel for %s: destination '%s' is not an ip:port (a transparent listener "
        "is needed to tunnel to the original destination)",
        peer_.toString().c_str(), destination.c_str());
    close("tunnel without destination");
    return;
  }
  auto fd = net::connectNonBlocking(*address);
  if (!fd) {
    worker_.counters().add(Counter::kUpstreamConnectFailure);
    close("tunnel connect failed");
    return;
  }
  TG_DEBUG(log::kNet, "tunnel %s -> %s, replaying %zu bytes", peer_.toString().c_str(),
           address->toString().c_str(), replay.size());
  int ufd = fd->get();
  phase_.emplace<TunnelConnecting>(std::move(fd.value()), std::move(replay));
  io_.handshake.reset();
  worker_.reactor().add(ufd, kAllEvents, &upstreamEvents_);
}

void ClientConnection::finishTunnelConnect(TunnelConnecting& c, uint32_t events) {
  if (int err = net::connectResult(c.destination.get()); err != 0) {
    worker_.counters().add(Counter::kUpstreamConnectFailure);
    TG_DEBUG(log::kNet, "tunnel for %s: %s", peer_.toString().c_str(), std::strerror(err));
    close("tunnel connect failed");
    return;
  }
  Fd destination = std::move(c.destination);
  std::string replay = std::move(c.replay);
  auto& t =
      phase_.emplace<Tunneling>(io_, std::move(destination), std::move(replay), worker_.counters());
  t.tunnel.destinationReady(events);
  drive();
}

void ClientConnection::onHandshakeDone(tls::ServerHandshake& driver) {
  worker_.reactor().cancel(timer_);  // S14: stop the handshake clock
  auto handshakeTime = driver.elapsed();
  ssl_ = driver.takeSsl();
  io_.endHandshake();
  // S14: ALPN picked one of ssl.alpn (or nothing); the default route serves all of them.
  const config::RouteTarget& route = snapshot_->config.defaultRoute;
  if (route.inspect) {
    std::string body = inspectBody(handshakeTime);
    phase_.emplace<Inspecting>(ssl_.get(), io_, std::move(body), worker_.counters());
    drive();
  } else {
    startUpstream();
  }
}

void ClientConnection::startUpstream() {
  const net::Address& upstream = snapshot_->config.defaultRoute.upstream;
  auto fd = net::connectNonBlocking(upstream);
  if (!fd) {
    worker_.counters().add(Counter::kUpstreamConnectFailure);
    log::warning("upstream %s: %s", upstream.toString().c_str(), fd.error().message.c_str());
    tls::tlsShutdown(ssl_.get());
    close("upstream connect failed");
    return;
  }
  int ufd = fd->get();
  phase_.emplace<Connecting>(std::move(fd.value()));
  worker_.reactor().add(ufd, kAllEvents, &upstreamEvents_);
}

void ClientConnection::finishConnect(Connecting& c, uint32_t events) {
  int err = net::connectResult(c.upstream.get());
  if (err != 0) {
    worker_.counters().add(Counter::kUpstreamConnectFailure);
    TG_DEBUG(log::kRelay, "upstream %s for %s: %s",
             snapshot_->config.defaultRoute.upstream.toString().c_str(), peer_.toString().c_str(),
             std::strerror(err));
    tls::tlsShutdown(ssl_.get());  // a clean TLS close for the client
    close("upstream connect failed");
    return;
  }
  Fd upstream = std::move(c.upstream);
  auto& relaying = phase_.emplace<Relaying>(ssl_.get(), io_, std::move(upstream), worker_.buffers(),
                                            worker_.counters());
  // The event that completed the connect may also carry the upstream's data and FIN: the
  // relay must know about the hang-up, or it would wait for an edge that never comes.
  relaying.relay.upstreamReady(events);
  drive();
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
