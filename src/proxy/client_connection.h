// ClientConnection: one accepted connection, from accept to close, on one worker.
//
// Its phase is one std::variant (STYLE rule 5): reading what comes before TLS (a PROXY
// header, S9's first byte), the handshake, resolving and connecting to where the
// connection goes, the TLS handshake with an origin, then relaying, tunnelling or answering
// as the inspect endpoint. The data of a phase lives in that phase's struct and goes with
// it. Events for the client socket and the upstream socket both land here and drive the
// current phase.
//
// Where a connection goes, in order:
//   S5  transparent listener, multicert dest_ip entry with action=tunnel → tunnel at once;
//   S9  pass-through listener, first byte not a TLS handshake → tunnel;
//   S10 a hook, sni.yaml's tunnel_route, or S11's action=tunnel → tunnel, replaying the
//       ClientHello;
//   S14 otherwise the endpoint of the negotiated protocol (ConnectionRouting).
#pragma once

#include <memory>
#include <optional>
#include <variant>

#include "core/fd.h"
#include "core/reactor.h"
#include "hooks/hook_runner.h"
#include "net/address.h"
#include "proxy/blind_tunnel.h"
#include "proxy/connection_record.h"
#include "proxy/connection_routing.h"
#include "proxy/inspect.h"
#include "proxy/origin_session_cache.h"
#include "proxy/relay.h"
#include "proxy/snapshot.h"
#include "proxy/stream.h"
#include "tls/client_handshake.h"
#include "tls/ossl.h"
#include "tls/server_handshake.h"
#include "tls/socket_bio.h"

namespace tlsgate::proxy {

class Worker;

class ClientConnection final : public EventHandler,
                               public TimerHandler,
                               public Disposable,
                               public hooks::HookHost {
 public:
  // `listenerIndex`: the listener's place in the snapshot's listeners; `listenerStats` its
  // counters (may be null: more listeners than the registry holds).
  ClientConnection(Worker& worker, Fd fd, const net::Address& peer, const net::Address& local,
                   std::shared_ptr<const Snapshot> snapshot, size_t listenerIndex,
                   stats::ListenerStats* listenerStats);
  ~ClientConnection() override;

  // Registers with the reactor, arms the handshake clock (S1) and starts reading.
  void start();
  // Ends the connection: the socket closes now; the object goes once no hook holds it
  // (S13) and the VCONN_CLOSE hooks have run.
  void close(const char* why);
  // Worker shutdown: close and go now, even if a hook still holds the connection (its
  // later completing call is dropped).
  void abandon();

  void onEvents(uint32_t events) override;
  void onTimer() override;
  void onHookCompleted() override;

  // Intrusive list of the worker's live connections.
  ClientConnection* prev = nullptr;
  ClientConnection* next = nullptr;

 private:
  // Before TLS: the PROXY header (listener proxy_protocol), then S9's first byte
  // (listener passthrough).
  struct ReadingProxyHeader {};
  struct SniffingFirstByte {};
  // Phase structs are built in place (their members are neither copyable nor movable).
  struct Handshaking {
    template <class... Args>
    explicit Handshaking(Args&&... args) : driver(std::forward<Args>(args)...) {}
    tls::ServerHandshake driver;
  };
  // A destination that is a host name, being resolved off the loop.
  struct Resolving {};
  struct Connecting {};
  // Connected to a TLS origin; the OUTBOUND_START hooks run before the client handshake.
  struct OutboundStarting {};
  // TLS towards the origin (partial_blind_route).
  struct OriginHandshaking {
    template <class... Args>
    explicit OriginHandshaking(Args&&... args) : driver(std::forward<Args>(args)...) {}
    tls::ClientHandshake driver;
  };
  struct Relaying {
    Relaying(SSL* ssl, tls::SocketIo& io, std::unique_ptr<Stream> up, BufferPool& pool,
             stats::CounterBlock& counters)
        : client(ssl, io), upstream(std::move(up)), relay(client, *upstream, pool, counters) {}
    TlsStream client;
    std::unique_ptr<Stream> upstream;
    Relay relay;
  };
  struct Inspecting {
    template <class... Args>
    explicit Inspecting(Args&&... args) : responder(std::forward<Args>(args)...) {}
    InspectResponder responder;
  };
  struct Tunneling {
    template <class... Args>
    explicit Tunneling(Args&&... args) : tunnel(std::forward<Args>(args)...) {}
    BlindTunnel tunnel;
  };
  // The socket is closed; waiting for a hook that holds the connection (S13) or for the
  // VCONN_CLOSE hooks to finish.
  struct Closing {};
  using Phase = std::variant<std::monostate, ReadingProxyHeader, SniffingFirstByte, Handshaking,
                             Resolving, Connecting, OutboundStarting, OriginHandshaking, Relaying,
                             Inspecting, Tunneling, Closing>;

  // Where the origin's new sessions go: the worker's cache, under this connection's key.
  struct OriginSessions final : tls::SessionSink {
    void store(ossl::UniquePtr<SSL_SESSION> session) override {
      if (cache) cache->store(key, std::move(session));
    }
    OriginSessionCache* cache = nullptr;
    std::string key;
  };

  // Forwards the upstream socket's events to the connection.
  struct UpstreamEvents final : EventHandler {
    explicit UpstreamEvents(ClientConnection& c) : conn(c) {}
    void onEvents(uint32_t events) override { conn.onUpstreamEvents(events); }
    ClientConnection& conn;
  };

  const ListenerSettings& listener() const;
  void drive();
  // PROXY header, then S5, then S9's first byte, then the handshake.
  bool readProxyHeader();  // false: not complete yet, or the connection closed
  void afterProxyHeader();
  void sniffFirstByte();  // S9
  void startHandshake();
  void driveHandshake(Handshaking& hs);
  void onHandshakeDone(tls::ServerHandshake& driver);
  // A blind tunnel to `destination` ("" = the original destination), replaying `replay`.
  void startTunnel(const std::string& destination, std::string replay);
  // Resolves target_ if needed, then connects to it.
  void connectTarget();
  void onResolved(Result<net::Address> address);
  void startConnect(const net::Address& address);
  void onUpstreamEvents(uint32_t events);
  void finishConnect(uint32_t events);
  // The PROXY header this connection sends to target_ ("" when none).
  std::string outboundProxyHeader() const;
  // OUTBOUND_START hooks, then the client handshake with the origin.
  void startOriginHandshake();
  void driveOriginHandshake(OriginHandshaking& oh);
  void startRelay(std::unique_ptr<Stream> upstream);
  // Fails towards the client: close_notify once terminated, then close.
  void failUpstream(ConnectionError error, const char* why);
  // close() that records why (the first reason given is kept).
  void closeWith(ConnectionError error, const char* why);
  // The access log record: the inbound handshake once it ended (SNI-miss, version, cipher
  // and latency series counted here), the bytes of the data phase before it goes, and at
  // close the per-listener outcome and the access log line.
  void recordHandshake(const tls::ServerHandshake& driver);
  void noteDataPhaseEnd();
  void recordClose();
  // Closes the connection when a data phase finished or failed.
  void settle(Progress progress, const char* finished, const char* failed);
  // After close(): VCONN_CLOSE hooks, then the object goes.
  void finishClose();
  std::string inspectBody(std::chrono::microseconds handshakeTime) const;

  Worker& worker_;
  Fd fd_;
  net::Address peer_;   // after a PROXY header: the address it carried
  net::Address local_;  // likewise; on a transparent listener, the original destination
  std::shared_ptr<const Snapshot> snapshot_;  // S16: pinned at accept
  size_t listenerIndex_;
  stats::ListenerStats* listenerStats_;  // registered once per listener, never freed
  uint16_t listenerPort_;                // where the client connected ({inbound_local_port})
  uint16_t proxyProtocolPort_ = 0;       // the PROXY header's destination port
  tls::SocketIo io_;                     // outlives ssl_ and the phases, which point into it
  ossl::UniquePtr<SSL> ssl_;             // the established session, after the handshake
  EndpointDecision target_;              // where the connection goes once decided
  std::string replay_;                   // what a tunnel replays to its destination (S10)
  Fd upstreamFd_;
  tls::SocketIo upstreamIo_;       // the upstream socket's readiness (and its BIO's, to an origin)
  OriginSessions originSessions_;  // outlives upstreamSsl_, which hands it sessions
  ossl::UniquePtr<SSL> upstreamSsl_;  // the session with a TLS origin
  // Shared with the resolver's callback: reset when the connection goes, so a late answer
  // finds nobody.
  std::shared_ptr<ClientConnection*> resolveToken_;
  Timer timer_;  // S1 handshake timeout, then tunnel.inactivity_timeout
  UpstreamEvents upstreamEvents_;
  std::unique_ptr<hooks::HookRunner> hooks_;  // only when plugins registered hooks
  std::optional<ConnectionRouting> routing_;  // from the handshake on
  ConnectionRecord record_;
  Phase phase_;
};

}  // namespace tlsgate::proxy
