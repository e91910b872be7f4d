// HookRunner: runs the hook chains of one connection (S7, S10, S13) and is the connection's
// side of the plugin handle (tlsgate_vconn).
//
// One runner per connection, created only when plugins registered hooks; everything here
// runs on the connection's thread. A hook is invoked with the connection "held"; its
// completing call (re-enable, error, terminate, tunnel) releases it, either during the
// callback (the chain goes straight on) or later from any thread (the call is posted to
// this thread, the chain resumes, and the owner is told to drive the connection again).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "hooks/reactor_link.h"
#include "net/address.h"
#include "tls/cert_store.h"
#include "tls/handshake_hooks.h"
#include "tlsgate/plugin.h"

struct tlsgate_cert;

namespace tlsgate::hooks {

// How a hook ended its turn.
enum class Completion : uint8_t { kReenable, kError, kTerminate, kTunnel };

// The connection that owns a runner.
class HookHost {
 public:
  virtual ~HookHost() = default;
  // A hook completed later than its callback: drive the connection again.
  virtual void onHookCompleted() = 0;
};

class HookRunner final : public tls::HandshakeHooks {
 public:
  HookRunner(std::shared_ptr<ReactorLink> link, HookHost& host, const tls::CertStore& store,
             const net::Address& client, const net::Address& local);
  ~HookRunner() override;
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  tls::HookVerdict run(tls::HookPoint point) override;
  void applyCertificateOverride(SSL* ssl) override;
  void sessionCreated(SSL* ssl) override { ssl_ = ssl; }
  void clientHelloRead(const tls::ClientHelloFacts& hello) override;

  // Where a hook asked to tunnel to ("" = the original destination).
  const std::string& tunnelDestination() const override { return tunnelDestination_; }

  // --- the plugin API's side (src/hooks/plugin_api.cc) ---
  void complete(Completion c, std::string tunnelDestination);  // on this thread
  bool inCallback() const { return inCallback_; }
  tlsgate_vconn* handle() const { return vc_; }
  const char* sni() const;
  const char* ja4() const;  // NULL before the ClientHello
  const std::string& alpnOffered() const { return alpnOffered_; }
  const net::Address& client() const { return client_; }
  const net::Address& local() const { return local_; }
  SSL* ssl() const { return ssl_; }
  const tls::CertStore& store() const { return store_; }

 private:
  tls::HookVerdict finish(tls::HookPoint point, Completion c);

  HookHost& host_;
  const tls::CertStore& store_;
  net::Address client_;
  net::Address local_;
  tlsgate_vconn* vc_;  // the plugins' handle; outlives the runner while calls are in flight
  SSL* ssl_ = nullptr;
  std::array<size_t, TLSGATE_HOOK_COUNT> next_{};                           // per point
  std::array<std::optional<tls::HookVerdict>, TLSGATE_HOOK_COUNT> done_{};  // per point
  // Points whose current hook holds the connection, oldest first. Normally one at most;
  // VCONN_CLOSE may run while an earlier hook still holds a closed connection (S13).
  std::deque<tls::HookPoint> holds_;
  std::optional<Completion> completedInCallback_;
  bool inCallback_ = false;
  std::string tunnelDestination_;
  // From the ClientHello, for the accessors of later points.
  std::string alpnOffered_;
  std::string sni_;
  std::string ja4_;
};

}  // namespace tlsgate::hooks
