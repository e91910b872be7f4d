// ServerHandshake: the TLS terminator, the server side of the handshake driver (S1-S4, S6,
// S8, S10, S12, S14). It knows nothing of routes: at the ClientHello it hands the facts to
// its owner (tls/handshake_owner.h), which says which certificate to serve, or to stop.
//
// One enum of states, one driver loop (STYLE rule 3): advance() runs the current step; a
// step moves the state only when it succeeds, otherwise advance() returns why it stopped
// (HandshakeWait). The owner re-enters advance() on read readiness, write readiness, hook
// completion and timer expiry (S3). The driver never blocks and never touches the socket
// itself: it works on whatever BIO it is given (the socket BIO in production, a memory BIO
// pair in unit tests).
//
// Inside kAccept, OpenSSL's two callbacks have steps of their own, because OpenSSL calls
// them again after a pause: HelloStep (CLIENT_HELLO hooks, then the owner's choice) and
// CertStep (the chosen certificate, then the CERT hooks). A re-entered callback resumes at
// its step.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "net/address.h"
#include "stats/counters.h"
#include "tls/cert_store.h"
#include "tls/client_hello.h"
#include "tls/handshake_hooks.h"
#include "tls/handshake_owner.h"
#include "tls/ossl.h"
#include "tls/server_params.h"

namespace tlsgate::tls {

enum class HandshakeState : uint8_t {
  kStart,          // S1: start the clock
  kPreAccept,      // S7: VCONN_START hooks, before any byte is read
  kCreateSession,  // S2, S6: the SSL, on the trampoline context
  kAccept,         // SSL_do_handshake, with the ClientHello and certificate callbacks
  kDone,           // S14: the SSL is ready for application data
  kStopped,        // a hook or the owner ended it without an error (stopCause() says which)
  kFailed,
};

// Why advance() returned without finishing.
enum class HandshakeWait : uint8_t {
  kNone,   // done, stopped or failed: look at state()
  kRead,   // S4: wait for read readiness
  kWrite,  // S4: wait for write readiness
  kHook,   // S4: a hook holds the connection; readiness does not advance it (S7, S10)
};

// Why a handshake stopped (kStopped).
enum class StopCause : uint8_t {
  kOwner,          // the owner's choice at the ClientHello
  kHookTunnel,     // a hook asked for a blind tunnel (S7, S10)
  kHookTerminate,  // a hook asked to close the connection
};

const char* toString(HandshakeState s);
const char* toString(HandshakeError e);

class ServerHandshake {
 public:
  // `peer` and `local` are used for the trace and the log lines. `bio` becomes the SSL's.
  // `hooks` may be null (no plugin registered any hook).
  ServerHandshake(const CertStore& store, const ServerParams& params, ossl::UniquePtr<BIO> bio,
                  const net::Address& local, const net::Address& peer,
                  stats::CounterBlock& counters, HandshakeOwner& owner,
                  HandshakeHooks* hooks = nullptr);
  ~ServerHandshake();
  ServerHandshake(const ServerHandshake&) = delete;
  ServerHandshake& operator=(const ServerHandshake&) = delete;

  HandshakeWait advance();

  // S1: the handshake clock ran out. The state becomes kFailed (kTimeout).
  void timeout();

  HandshakeState state() const { return state_; }
  HandshakeError error() const { return error_; }
  StopCause stopCause() const { return stopCause_; }
  const std::string& reason() const { return reason_; }
  // True once the handshake is over, whichever way.
  bool over() const;

  // After kDone: the established session, for the endpoint (S14).
  ossl::UniquePtr<SSL> takeSsl();
  SSL* ssl() const { return ssl_.get(); }
  // The certificate entry served (S11), once the certificate callback ran.
  const CertEntry* selected() const {
    return certStep_ == CertStep::kSwitch ? nullptr : chosen_.entry;
  }
  // What the store knows of the certificate `ssl` (this handshake's) served; nullptr for a
  // certificate a hook gave.
  const CertInfo* servedInfo(SSL* ssl) const { return served_.infoOf(SSL_get_certificate(ssl)); }
  std::chrono::microseconds elapsed() const { return elapsed_; }
  // Whether the client answered a HelloRetryRequest (its first key shares did not suit).
  bool helloRetried() const { return helloRetried_; }

  // Sets the callbacks every server context needs (ClientHello, certificate, ALPN, info).
  // The functions are trampolines to the ServerHandshake found in the SSL's ex_data.
  static void installCallbacks(SSL_CTX* ctx);
  // Requests client certificates (`mode`: SSL_VERIFY_PEER, optionally with
  // SSL_VERIFY_FAIL_IF_NO_PEER_CERT) and runs VERIFY_CLIENT hooks on the verified leaf.
  static void installClientVerification(SSL_CTX* ctx, int mode);
  // The same for one connection (per-name settings, sni.yaml verify_client).
  static void setClientVerification(SSL* ssl, int mode);
  // The counters of the worker that owns `ssl` (for OpenSSL callbacks); null if none.
  static stats::CounterBlock* countersOf(const SSL* ssl);
  // The OCSP response of the entry chosen for `ssl`; null if none (or not chosen yet).
  static const OcspStaple* ocspOf(SSL* ssl);

 private:
  // Where the ClientHello callback is: it runs again after a paused hook (and once more for
  // a ClientHello answering a HelloRetryRequest).
  enum class HelloStep : uint8_t { kHooks, kChoose, kChosen };
  // Where the certificate callback is: it runs again after a paused CERT hook.
  enum class CertStep : uint8_t { kSwitch, kHooks, kDone };

  HandshakeWait doStart();
  HandshakeWait doPreAccept();
  HandshakeWait doCreateSession();
  HandshakeWait doAccept();
  HandshakeWait doneOrWait(int rc);
  void fail(HandshakeError error, std::string reason);
  // A hook's verdict that ends the handshake early (tunnel, terminate).
  void stopByHook(HookVerdict verdict);

  friend struct ServerCallbacks;
  int onClientHello(int* alert);
  void readHello();
  int choose(int* alert);
  void applyNameSettings();
  int onCertificate();
  int onVerifyClient(int preverifyOk, X509_STORE_CTX* store);
  int onAlpnSelect(const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned inlen);

  const CertStore& store_;
  const ServerParams& params_;
  ossl::UniquePtr<BIO> pendingBio_;  // until the SSL exists
  ossl::UniquePtr<SSL> ssl_;
  const net::Address& local_;
  const net::Address& peer_;
  stats::CounterBlock& counters_;
  HandshakeOwner& owner_;
  HandshakeHooks* hooks_;
  HandshakeState state_ = HandshakeState::kStart;
  HelloStep helloStep_ = HelloStep::kHooks;
  CertStep certStep_ = CertStep::kSwitch;
  HandshakeError error_ = HandshakeError::kNone;
  StopCause stopCause_ = StopCause::kOwner;
  std::string reason_;
  // The first ClientHello's facts, until they go to the owner; what is kept of them after.
  std::optional<ClientHelloFacts> hello_;
  std::optional<KeyShareGroups> firstKeyShares_;  // a later ClientHello with others: an HRR
  std::string sni_;
  ServeChoice chosen_;         // the owner's, from HelloStep::kChosen on
  ServedCerts served_;         // what the certificate callback put on the SSL
  bool helloRetried_ = false;  // a later ClientHello brought other key shares
  std::chrono::steady_clock::time_point start_{};
  std::chrono::microseconds elapsed_{0};
};

}  // namespace tlsgate::tls
