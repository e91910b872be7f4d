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
#include "net/address.h"
#include "proxy/inspect.h"
#include "proxy/relay.h"
#include "tls/ossl.h"
#include "tls/server_handshake.h"
#include "tls/socket_bio.h"

namespace tlsgate::proxy {

class Worker;

class ClientConnection final : public EventHandler, public TimerHandler, public Disposable {
 public:
  ClientConnection(Worker& worker, Fd fd, const net::Address& peer, const net::Address& local,
                   std::shared_ptr<const config::Snapshot> snapshot);
  ~ClientConnection() override;

  // Registers with the reactor, arms the handshake clock (S1) and starts the handshake.
  void start();
  // Ends the connection now (worker shutdown, fatal error).
  void close(const char* why);

  void onEvents(uint32_t events) override;
  void onTimer() override;

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
  using Phase = std::variant<std::monostate, Handshaking, Connecting, Relaying, Inspecting>;

  // Forwards the upstream socket's events to the connection.
  struct UpstreamEvents final : EventHandler {
    explicit UpstreamEvents(ClientConnection& c) : conn(c) {}
    void onEvents(uint32_t events) override { conn.onUpstreamEvents(events); }
    ClientConnection& conn;
  };

  void drive();
  void driveHandshake(Handshaking& hs);
  void onHandshakeDone(tls::ServerHandshake& driver);
  void startUpstream();
  void onUpstreamEvents(uint32_t events);
  void finishConnect(Connecting& c, uint32_t events);
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
  Phase phase_;
};

}  // namespace tlsgate::proxy
