// ClientConnection: one accepted connection, from accept to close, on one worker.
//
// The connection is one state machine: its phase is one std::variant, each phase holds its
// own data, and drive() dispatches with one std::visit (STYLE rule 5). Where it goes is
// decided by route_decision.h's decide(), called whenever something new is known:
//
//   accept ─► [PROXY header] ─► [first byte (S9)] ─► Handshaking ─► ClientHello: decide()
//     │              │                  │               │  Terminate: certificate (S11), CERT
//     │ S5           │                  │ S9            │  hooks (S10) ─► done ─► S14 endpoint
//     └──────────────┴──────────────────┴───────────────┴─► Tunnel: replay what was read
//   endpoint ─► [Resolving] ─► Connecting ─► [OutboundStarting ─► OriginHandshaking]
//            ─► Relaying | Inspecting;  Tunnel ─► [Resolving] ─► Connecting ─► Tunneling
//   any phase ─► Closing (VCONN_CLOSE hooks) ─► released
//
// The client's socket and its readiness live as long as the connection; the upstream's
// (once there is one) move from phase to phase in an Upstream object, so the BIO and epoll
// registration that point at it stay valid.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "core/fd.h"
#include "core/reactor.h"
#include "hooks/hook_runner.h"
#include "net/address.h"
#include "proxy/blind_tunnel.h"
#include "proxy/connection_record.h"
#include "proxy/inspect.h"
#include "proxy/origin_session_cache.h"
#include "proxy/relay.h"
#include "proxy/route_decision.h"
#include "proxy/snapshot.h"
#include "proxy/stream.h"
#include "tls/client_handshake.h"
#include "tls/handshake_owner.h"
#include "tls/ossl.h"
#include "tls/server_handshake.h"
#include "tls/socket_bio.h"

namespace tlsgate::proxy {

class Worker;

class ClientConnection final : public EventHandler,
                               public TimerHandler,
                               public Disposable,
                               public hooks::HookHost,
                               private tls::HandshakeOwner {
 public:
  // `listenerIndex`: the listener's place in the snapshot's listeners; `listenerStats` its
  // counters (may be null: more listeners than the registry holds).
  ClientConnection(Worker& worker, Fd fd, const net::Address& peer, const net::Address& local,
                   std::shared_ptr<const Snapshot> snapshot, size_t listenerIndex,
                   stats::ListenerStats* listenerStats);
  ~ClientConnection() override;

  // Registers with the reactor, arms the handshake clock (S1) and decides what to read.
  void start();
  // Ends the connection: the sockets close now, the VCONN_CLOSE hooks run, and a hook that
  // still holds the connection (S13) finds its completion cancelled; then the object goes.
  void close(const char* why);
  // Worker shutdown: close and go now.
  void abandon();

  void onEvents(uint32_t events) override;
  void onTimer() override;
  void onHookCompleted() override;

  // Intrusive list of the worker's live connections.
  ClientConnection* prev = nullptr;
  ClientConnection* next = nullptr;

 private:
  // Where the origin's new sessions go: the worker's cache, under this connection's key.
  struct OriginSessions final : tls::SessionSink {
    void store(ossl::UniquePtr<SSL_SESSION> session) override {
      if (cache) cache->store(key, std::move(session));
    }
    OriginSessionCache* cache = nullptr;
    std::string key;
  };
  // The upstream: where a terminated connection's plaintext, or a tunnel's bytes, go. It
  // moves from phase to phase on the heap: the epoll registration and the origin's BIO
  // point into it.
  struct Upstream {
    EndpointDecision target;  // a tunnel's: kind kTunnel and its destination
    std::string replay;       // a tunnel's: what the client sent already (S10)
    Fd fd;
    tls::SocketIo io;          // the upstream socket's readiness (and its BIO's)
    OriginSessions sessions;   // outlives ssl, which hands it sessions
    ossl::UniquePtr<SSL> ssl;  // the session with a TLS origin, once its handshake is done
  };
  // Forwards the upstream socket's events to the connection.
  struct UpstreamEvents final : EventHandler {
    explicit UpstreamEvents(ClientConnection& c) : conn(c) {}
    void onEvents(uint32_t events) override { conn.onUpstreamEvents(events); }
    ClientConnection& conn;
  };

  // --- phases (each holds its data; built in place, their members are not movable) ---
  struct AwaitingProxyHeader {};
  struct AwaitingFirstByte {};  // S9
  struct Handshaking {
    template <class... Args>
    explicit Handshaking(Args&&... args) : driver(std::forward<Args>(args)...) {}
    tls::ServerHandshake driver;
    tls::HandshakeWait wait = tls::HandshakeWait::kNone;  // what advance() last waited for
    std::optional<Terminate> route;  // decided at the ClientHello, when TLS ends here
    // acme.on_demand, ssl.cert_directory: set while the ClientHello waits for a
    // certificate; the answer holds a weak_ptr, so a late one finds nobody.
    std::shared_ptr<ClientConnection*> onDemandToken;
    OnDemandSource onDemandSource = OnDemandSource::kAcme;  // who it waits on
  };
  // A destination that is a host name, being resolved off the loop; the token lets a late
  // answer find nobody once the phase is gone.
  struct Resolving {
    std::unique_ptr<Upstream> upstream;
    std::shared_ptr<ClientConnection*> token;  // the resolver's answer holds a weak_ptr
  };
  struct Connecting {
    std::unique_ptr<Upstream> upstream;
  };
  // Connected to a TLS origin; the OUTBOUND_START hooks run before the client handshake.
  struct OutboundStarting {
    std::unique_ptr<Upstream> upstream;
  };
  struct OriginHandshaking {
    OriginHandshaking(std::unique_ptr<Upstream> up, const tls::ClientHandshake::Params& params,
                      stats::CounterBlock& counters, tls::HandshakeHooks* hooks);
    std::unique_ptr<Upstream> upstream;
    tls::ClientHandshake driver;
    tls::HandshakeWait wait = tls::HandshakeWait::kNone;
  };
  struct Relaying {
    Relaying(SSL* ssl, tls::SocketIo& io, std::unique_ptr<Upstream> up, BufferPool& pool,
             stats::CounterBlock& counters);
    std::unique_ptr<Upstream> upstream;
    TlsStream client;
    std::unique_ptr<Stream> upstreamStream;
    Relay relay;
  };
  struct Inspecting {
    template <class... Args>
    explicit Inspecting(Args&&... args) : responder(std::forward<Args>(args)...) {}
    InspectResponder responder;
  };
  struct Tunneling {
    Tunneling(tls::SocketIo& client, std::unique_ptr<Upstream> up, std::string replay,
              stats::CounterBlock& counters);
    std::unique_ptr<Upstream> upstream;  // its fd is the tunnel's
    BlindTunnel tunnel;
  };
  // The sockets are closed; the VCONN_CLOSE hooks have not finished yet.
  struct Closing {};
  using Phase = std::variant<std::monostate, AwaitingProxyHeader, AwaitingFirstByte, Handshaking,
                             Resolving, Connecting, OutboundStarting, OriginHandshaking, Relaying,
                             Inspecting, Tunneling, Closing>;

  const ListenerSettings& listener() const;
  stats::CounterBlock& counters();

  // --- admission control (client_connection_admission.cc) ---
  // The source is known (at accept, or from the PROXY header): the first verdict.
  void admitSource();
  // The ClientHello's verdict; true when the connection may go on.
  void admitClientHello();
  // The handshake is over, or the connection goes: its place among the handshakes in
  // progress is free.
  void endHandshakeAdmission();

  // --- the route (client_connection_route.cc) ---
  // Decides with what is known now and acts on it: read more, handshake, tunnel, refuse.
  void proceed();
  void act(const NeedMore& need);
  void act(Tunnel& tunnel);
  void act(const Refuse& refuse);
  void act(const Terminate& terminate);
  void act(const AwaitCertificate& await);
  tls::ServeChoice onClientHello(tls::ClientHelloFacts hello) override;
  tls::ServeChoice onClientHelloAgain() override;
  tls::ServeChoice serveChoice();
  void startHandshake();
  void afterHandshake(Handshaking& hs);
  void onHandshakeDone(Handshaking& hs);
  void closeWith(ConnectionError error, const char* why);
  void failUpstream(ConnectionError error, const char* why);

  // --- acme.on_demand (client_connection_on_demand.cc) ---
  // Pauses the handshake while the ACME client obtains a certificate for the name.
  tls::ServeChoice awaitCertificate(const AwaitCertificate& await);
  // The wait is over: the manager answered, or its deadline passed. Decides again.
  void onDemandAnswered(bool timedOut);

  // --- the steps of each phase (client_connection.cc) ---
  void drive();
  void step(std::monostate&) {}
  void step(AwaitingProxyHeader&);
  void step(AwaitingFirstByte&);
  void step(Handshaking& hs);
  void step(Resolving&) {}   // the resolver's answer drives it
  void step(Connecting&) {}  // the upstream's first event drives it
  void step(OutboundStarting& os);
  void step(OriginHandshaking& oh);
  void step(Relaying& r);
  void step(Inspecting& in);
  void step(Tunneling& t);
  void step(Closing&) {}
  // Closes the connection when a data phase finished or failed.
  void settle(Progress progress, const char* finished, const char* failed);
  // Arms the one timer for the phase just entered; a zero timeout (none) cancels it.
  void armFor(Clock::duration timeout);
  void expireHandshake();
  void finishClose();

  // --- the upstream (client_connection_upstream.cc) ---
  void connectTo(std::unique_ptr<Upstream> upstream);
  void onResolved(Result<net::Address> address);
  void startConnect(std::unique_ptr<Upstream> upstream);
  void onUpstreamEvents(uint32_t events);
  void finishConnect(uint32_t events);
  std::string outboundProxyHeader(const Upstream& upstream) const;
  void startOriginHandshake(std::unique_ptr<Upstream> upstream);
  void startRelay(std::unique_ptr<Upstream> upstream);

  // --- the record (client_connection_record.cc) ---
  void recordHandshake(const Handshaking& hs);
  void noteDataPhaseEnd();
  void recordClose();
  std::string inspectBody(std::chrono::microseconds handshakeTime) const;

  Worker& worker_;
  Fd fd_;
  std::shared_ptr<const Snapshot> snapshot_;  // S16: pinned at accept
  size_t listenerIndex_;
  stats::ListenerStats* listenerStats_;  // registered once per listener, never freed
  RouteInputs route_;                    // what decide() knows so far
  tls::SocketIo io_;                     // the client socket; outlives the phases
  // The client's TLS session once the handshake is done (terminated connections only).
  ossl::UniquePtr<SSL> ssl_;
  Timer timer_;  // the current phase's timeout (README "Timeouts")
  UpstreamEvents upstreamEvents_;
  std::unique_ptr<hooks::HookRunner> hooks_;  // only when plugins registered hooks
  ConnectionRecord record_;
  AdmissionLease admission_;
  bool handshakeAdmitted_ = false;  // counted among the worker's handshakes in progress
  Phase phase_;
};

}  // namespace tlsgate::proxy
