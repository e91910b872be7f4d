// ClientConnection: one accepted TLS connection, from accept to close, on one worker.
//
// Its phase is one std::variant (STYLE rule 5): handshaking, connecting to the upstream,
// relaying, or answering as the inspect endpoint. The data of a phase lives in that
// phase's struct and disappears with it. Events for the client socket and the upstream
// socket both land here and drive the current phase.
#pragma once

#include <memory>
#include <variant>

#include "config/snapshot.h"
#include "core/fd.h"
#include "core/reactor.h"
#include "hooks/hook_runner.h"
#include "net/address.h"
#include "proxy/blind_tunnel.h"
#include "proxy/inspect.h"
#include "proxy/relay.h"
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
  ClientConnection(Worker& worker, Fd fd, const net::Address& peer, const net::Address& local,
                   std::shared_ptr<const config::Snapshot> snapshot);
  ~ClientConnection() override;

  // Registers with the reactor, arms the handshake clock (S1) and starts the handshake.
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
  // Phase structs are built in place (their members are neither copyable nor movable).
  struct Handshaking {
    template <class... Args>
    explicit Handshaking(Args&&... args) : driver(std::forward<Args>(args)...) {}
    tls::ServerHandshake driver;
  };
  struct Connecting {
    explicit Connecting(Fd fd) : upstream(std::move(fd)) {}
    Fd upstream;
  };
  struct Relaying {
    template <class... Args>
    explicit Relaying(Args&&... args) : relay(std::forward<Args>(args)...) {}
    Relay relay;
  };
  struct Inspecting {
    template <class... Args>
    explicit Inspecting(Args&&... args) : responder(std::forward<Args>(args)...) {}
    InspectResponder responder;
  };
  // A hook asked for a blind tunnel: connecting to its destination, then tunnelling.
  struct TunnelConnecting {
    TunnelConnecting(Fd fd, std::string bytes)
        : destination(std::move(fd)), replay(std::move(bytes)) {}
    Fd destination;
    std::string replay;  // what the client sent so far (S8, S10)
  };
  struct Tunneling {
    template <class... Args>
    explicit Tunneling(Args&&... args) : tunnel(std::forward<Args>(args)...) {}
    BlindTunnel tunnel;
  };
  // The socket is closed; waiting for a hook that holds the connection (S13) or for the
  // VCONN_CLOSE hooks to finish.
  struct Closing {};
  using Phase = std::variant<std::monostate, Handshaking, Connecting, Relaying, Inspecting,
                             TunnelConnecting, Tunneling, Closing>;

  // Forwards the upstream socket's events to the connection.
  struct UpstreamEvents final : EventHandler {
    explicit UpstreamEvents(ClientConnection& c) : conn(c) {}
    void onEvents(uint32_t events) override { conn.onUpstreamEvents(events); }
    ClientConnection& conn;
  };

  void drive();
  void driveHandshake(Handshaking& hs);
  // Closes the connection when a data phase finished or failed.
  void settle(Progress progress, const char* finished, const char* failed);
  void onHandshakeDone(tls::ServerHandshake& driver);
  void startUpstream();
  void onUpstreamEvents(uint32_t events);
  void finishConnect(Connecting& c, uint32_t events);
  void startTunnel(const std::string& destination);
  void finishTunnelConnect(TunnelConnecting& c, uint32_t events);
  // After close(): VCONN_CLOSE hooks, then the object goes.
  void finishClose();
  std::string inspectBody(std::chrono::microseconds handshakeTime) const;

  Worker& worker_;
  Fd fd_;
  net::Address peer_;
  net::Address local_;
  std::shared_ptr<const config::Snapshot> snapshot_;  // S16: pinned at accept
  tls::SocketIo io_;          // outlives ssl_ and the phases, which point into it
  ossl::UniquePtr<SSL> ssl_;  // the established session, after the handshake
  Timer timer_;               // S1: handshake timeout
  UpstreamEvents upstreamEvents_;
  std::unique_ptr<hooks::HookRunner> hooks_;  // only when plugins registered hooks
  Phase phase_;
};

}  // namespace tlsgate::proxy
